"""The HTTP API: the Dify-compatible Service API, the console API, and operator endpoints."""

from .app import create_app
from .errors import ApiError, error_response

__all__ = ["create_app", "ApiError", "error_response"]
