"""The Service API's routes (``/v1``), one module per group of the endpoint table."""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import generation

__all__ = ["service_routes"]


def service_routes() -> list[BaseRoute]:
    """Every ``/v1`` route, relative to the mount point."""
    return [*generation.ROUTES]
