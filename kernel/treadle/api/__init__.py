"""The HTTP API: the Dify-compatible Service API, the console API, and operator endpoints."""

from .app import create_app
from .errors import ApiError, error_response

__all__ = ["ApiError", "create_app", "error_response"]
