"""``GET /v1/openapi.json``: the Service API's OpenAPI 3.1 document, for code generators, API explorers
and contract tests. It needs no key: it describes the API, not an app."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...openapi import service_document
from .common import respond

__all__ = ["ROUTES"]


async def openapi_document(request: Request) -> Response:
    return respond(service_document())


ROUTES = [Route("/openapi.json", openapi_document, methods=["GET"])]
