"""An app's MCP server (PUB-MCP-SERVER), in Dify's console shape: ``GET/POST/PUT
/apps/{app_id}/server`` read, switch on and change it; ``GET /apps/{server_id}/server/refresh``
gives it a new code (the old URL stops working at once). Each answer carries ``server_url``, the
server's URL as seen from this request's host."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from ...runtime.mcp_servers import MAX_DESCRIPTION_CHARS, McpServers, McpServerView
from ...tenancy import Action
from ..errors import ApiError
from ..service.routes.common import json_body, respond
from .common import endpoint, workspace_member

__all__ = ["ROUTES"]


class ServerRequest(BaseModel):
    """``POST /apps/{app_id}/server`` (switch on) and ``PUT`` (change; ``status`` switches on or off)."""

    model_config = ConfigDict(extra="ignore")

    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_CHARS)
    parameters: dict[str, str] | None = None
    require_api_key: bool | None = None
    status: Literal["active", "inactive"] | None = None


def _view(server: McpServerView, request: Request) -> dict[str, Any]:
    return server.as_dict(f"{request.url.scheme}://{request.url.netloc}")


async def get_server(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_USE)
    app_id = request.path_params["app_id"]
    server = await McpServers(member.state.db, member.tenant_id).get(app_id)
    if server is None:
        raise ApiError(404, "not_found", f"App {app_id} has no MCP server: POST to this URL to switch one on.")
    return respond(_view(server, request))


async def enable_server(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_PUBLISH)
    body = await json_body(request, ServerRequest)
    servers = McpServers(member.state.db, member.tenant_id)
    server = await servers.enable(
        request.path_params["app_id"], description=body.description, parameters=body.parameters,
        require_api_key=body.require_api_key,
    )
    return respond(_view(server, request))


async def update_server(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_PUBLISH)
    body = await json_body(request, ServerRequest)
    server = await McpServers(member.state.db, member.tenant_id).update(
        request.path_params["app_id"], description=body.description, parameters=body.parameters,
        require_api_key=body.require_api_key, status=body.status,
    )
    return respond(_view(server, request))


async def refresh_code(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_PUBLISH)
    servers = McpServers(member.state.db, member.tenant_id)
    found = await servers.by_id(request.path_params["server_id"])
    return respond(_view(await servers.regenerate(found.app_id), request))


ROUTES = [
    endpoint("/apps/{app_id}/server", get_server, ["GET"]),
    endpoint("/apps/{app_id}/server", enable_server, ["POST"]),
    endpoint("/apps/{app_id}/server", update_server, ["PUT"]),
    endpoint("/apps/{server_id}/server/refresh", refresh_code, ["GET"]),
]
