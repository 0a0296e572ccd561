"""API-based extensions of the current workspace (``/api-based-extension``): HTTP endpoints its apps'
moderation calls. Saving one calls its ``ping`` point first; keys are shown masked (FEAT-MODERATION)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from ...runtime import ApiExtensionError, ApiExtensionNotFound, ApiExtensions
from ...tenancy import Action
from ..errors import ApiError
from ..service.routes.common import json_body, respond
from .common import Member, endpoint, workspace_member

__all__ = ["ROUTES", "ExtensionRequest"]


class ExtensionRequest(BaseModel):
    """``POST /api-based-extension`` and ``POST /api-based-extension/{id}``."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    api_endpoint: str = Field(min_length=1, max_length=1024)
    api_key: str = Field(min_length=1, max_length=4096)


def _extensions(member: Member) -> ApiExtensions:
    service = member.state.service
    return ApiExtensions(service.db, service.cipher, member.tenant_id)


async def _answer(work: Any) -> Any:
    try:
        return await work
    except ApiExtensionNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except ApiExtensionError as exc:
        raise ApiError(400, "invalid_param", str(exc), params=exc.field or None) from None


async def list_extensions(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_USE)
    found = await _answer(_extensions(member).list())
    return respond([view.as_dict() for view in found])


async def create_extension(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    body = await json_body(request, ExtensionRequest)
    view = await _answer(_extensions(member).create(body.name, body.api_endpoint, body.api_key))
    return respond(view.as_dict(), 201)


async def get_extension(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_USE)
    view = await _answer(_extensions(member).get(request.path_params["extension_id"]))
    return respond(view.as_dict())


async def update_extension(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    body = await json_body(request, ExtensionRequest)
    extension_id = request.path_params["extension_id"]
    view = await _answer(_extensions(member).update(extension_id, body.name, body.api_endpoint, body.api_key))
    return respond(view.as_dict())


async def delete_extension(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    await _answer(_extensions(member).delete(request.path_params["extension_id"]))
    return Response(status_code=204)


ROUTES = [
    endpoint("/api-based-extension", list_extensions, ["GET"]),
    endpoint("/api-based-extension", create_extension, ["POST"]),
    endpoint("/api-based-extension/{extension_id}", get_extension, ["GET"]),
    endpoint("/api-based-extension/{extension_id}", update_extension, ["POST"]),
    endpoint("/api-based-extension/{extension_id}", delete_extension, ["DELETE"]),
]
