"""The Service API's routes (``/v1``), one module per group of the endpoint table."""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import app_info, audio, conversations, files, generation, messages, openapi, workflow_runs
from .annotations import ROUTES as ANNOTATION_ROUTES  # ``annotations`` here is the __future__ feature

__all__ = ["service_routes"]


def service_routes() -> list[BaseRoute]:
    """Every ``/v1`` route, relative to the mount point."""
    return [
        *generation.ROUTES, *conversations.ROUTES, *messages.ROUTES, *openapi.ROUTES,
        *ANNOTATION_ROUTES, *workflow_runs.ROUTES,
        *files.ROUTES, *audio.ROUTES, *app_info.ROUTES,
    ]
