"""OpenAPI 3.1 documents of Treadle's HTTP APIs, each generated from a declarative table of operations:
the Service API (``/v1/openapi.json``) and the console API (``/console/api/openapi.json``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .builder import JSON, Body, Operation, build_document
from .service import service_document

__all__ = ["Body", "Operation", "build_document", "console_document", "console_openapi", "service_document"]


def console_document() -> JSON:
    """The console API's OpenAPI 3.1 document (imported on first use: the console routes it reads
    import the Service API's modules, which serve this package's other document)."""
    from .console import console_document as build

    return build()


async def console_openapi(request: Request) -> Response:
    """``GET /console/api/openapi.json``: the console API's document; public, like the Service API's."""
    from ..service.routes.common import respond

    return respond(console_document())
