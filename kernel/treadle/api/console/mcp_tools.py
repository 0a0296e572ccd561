"""MCP servers of the current workspace, whose tools its apps use (WS-MCP-CLIENT), in Dify's console
shape: ``/workspaces/current/tool-provider/mcp`` to add (POST), change (PUT) and remove (DELETE) one,
``/workspaces/current/tools/mcp`` to list them with their tools, ``.../mcp/update/{provider_id}`` to
list a server's tools again ("Update Tools"), ``.../mcp/auth`` to sign in to one with OAuth
("Re-authorize"), whose browser comes back to the public ``/mcp/oauth/callback``: the state it
carries, issued to the one server, is what authenticates it.

Servers live in the supervisor's :class:`~treadle.tools.McpTools`; a server is named by its Server ID
(``server_identifier``, what apps reference) or its record ``id``. Header values are shown masked, and
sending a masked value back keeps the stored one. Owners and admins configure; every member sees.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from treadle_sdk.errors import PluginError, PluginNotFound

from ...models.vault import mask
from ...tenancy import Action
from ...tools import McpServer, McpServerError, McpTools
from ..errors import ApiError
from ..service.routes.common import json_body, query_params, respond
from .common import Member, endpoint, workspace_member
from .state import console_state

__all__ = [
    "OAUTH_CALLBACK",
    "ROUTES",
    "McpAuthRequest",
    "McpConfiguration",
    "McpOAuthCallbackQuery",
    "McpServerCreateRequest",
    "McpServerDeleteRequest",
    "McpServerUpdateRequest",
    "McpToolSettingsRequest",
]

T = TypeVar("T")

#: Where the authorization server sends the browser back, under ``/console/api``.
OAUTH_CALLBACK = "/mcp/oauth/callback"


class McpConfiguration(BaseModel):
    """Dify's ``configuration``: timeouts in seconds."""

    model_config = ConfigDict(extra="ignore")

    timeout: float | None = Field(default=None, gt=0, le=3600)
    sse_read_timeout: float | None = Field(default=None, gt=0, le=3600)


class _ServerFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    server_url: str = Field(min_length=1, max_length=2048)
    name: str = Field(min_length=1, max_length=128)
    icon: str = Field(default="", max_length=2048)
    headers: dict[str, str] | None = None
    configuration: McpConfiguration | None = None
    #: Treadle's: ``auto`` (streamable HTTP, then SSE), ``streamable_http`` or ``sse``.
    transport: str | None = None
    #: Dify's older bodies put the timeouts at the top level.
    timeout: float | None = Field(default=None, gt=0, le=3600)
    sse_read_timeout: float | None = Field(default=None, gt=0, le=3600)

    def timeouts(self) -> tuple[float | None, float | None]:
        configuration = self.configuration or McpConfiguration()
        return configuration.timeout or self.timeout, configuration.sse_read_timeout or self.sse_read_timeout


class McpServerCreateRequest(_ServerFields):
    """``POST /workspaces/current/tool-provider/mcp``: a new server; its tools are listed at once."""

    server_identifier: str = Field(min_length=1, max_length=64)


class McpServerUpdateRequest(_ServerFields):
    """``PUT /workspaces/current/tool-provider/mcp``: everything of ``provider_id`` but its Server ID
    (``server_identifier``, if sent, must be the one it has)."""

    provider_id: str = Field(min_length=1, max_length=64)
    server_identifier: str | None = Field(default=None, max_length=64)


class McpServerDeleteRequest(BaseModel):
    """``DELETE /workspaces/current/tool-provider/mcp``."""

    model_config = ConfigDict(extra="ignore")

    provider_id: str = Field(min_length=1, max_length=64)


class McpToolSettingsRequest(BaseModel):
    """``POST .../mcp/tools/{provider_id}/{tool_name}/settings``: what models are told the tool does
    ("" keeps the server's description) and the parameters Fixed to a value (the rest are Auto)."""

    model_config = ConfigDict(extra="ignore")

    description: str = Field(default="", max_length=4096)
    fixed: dict[str, Any] = Field(default_factory=dict)


class McpAuthRequest(BaseModel):
    """``POST /workspaces/current/tool-provider/mcp/auth``: start signing in to ``provider_id`` (its
    Server ID or id) with OAuth."""

    model_config = ConfigDict(extra="ignore")

    provider_id: str = Field(min_length=1, max_length=64)


class McpOAuthCallbackQuery(BaseModel):
    """``GET /mcp/oauth/callback``: what the authorization server sends the browser back with (RFC
    6749 section 4.1.2): the ``code`` and the ``state``, or an ``error`` instead of the code."""

    model_config = ConfigDict(extra="ignore")

    state: str = Field(default="", max_length=512)
    code: str = Field(default="", max_length=4096)
    error: str = Field(default="", max_length=256)
    error_description: str = Field(default="", max_length=1024)


def _mcp_tools(member: Member) -> McpTools:
    return member.state.service.supervisor.mcp_tools


async def _answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except McpServerError as exc:
        raise ApiError(400, "invalid_param", exc.message, params=exc.field or None) from None
    except PluginNotFound as exc:
        raise ApiError(404, "not_found", exc.message) from None
    except PluginError as exc:
        raise ApiError(400, "invalid_param", exc.message) from None


def _kept(headers: dict[str, str] | None, stored: McpServer) -> dict[str, str] | None:
    """The headers to save: a value sent back as it was shown (masked) keeps the stored one."""
    if headers is None:
        return None
    return {
        name: stored.headers[name] if name in stored.headers and value == mask(stored.headers[name]) else value
        for name, value in headers.items()
    }


async def list_servers(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_USE)
    tools = _mcp_tools(member)
    return respond([tools.view(server) for server in await tools.servers(member.tenant_id)])


async def get_server(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_USE)
    tools = _mcp_tools(member)
    return respond(tools.view(await _answer(tools.server(member.tenant_id, request.path_params["provider_id"]))))


async def create_server(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    body = await json_body(request, McpServerCreateRequest)
    tools = _mcp_tools(member)
    timeout, sse_read_timeout = body.timeouts()
    server = await _answer(tools.add_server(
        member.tenant_id, body.server_identifier, body.name, body.server_url, headers=body.headers or {},
        icon=body.icon, transport=body.transport or "auto", timeout=timeout or 30.0,
        sse_read_timeout=sse_read_timeout or 300.0,
    ))
    return respond(tools.view(server))


async def update_server(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    body = await json_body(request, McpServerUpdateRequest)
    tools = _mcp_tools(member)
    stored = await _answer(tools.server(member.tenant_id, body.provider_id))
    timeout, sse_read_timeout = body.timeouts()
    server = await _answer(tools.update_server(
        member.tenant_id, stored.server_id, server_id=body.server_identifier, name=body.name, url=body.server_url,
        headers=_kept(body.headers, stored), icon=body.icon or None, transport=body.transport, timeout=timeout,
        sse_read_timeout=sse_read_timeout,
    ))
    return respond({"result": "success", "provider": tools.view(server)})


async def delete_server(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    body = await json_body(request, McpServerDeleteRequest)
    await _answer(_mcp_tools(member).remove_server(member.tenant_id, body.provider_id))
    return respond({"result": "success"})


async def refresh_server(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    tools = _mcp_tools(member)
    server = await _answer(tools.refresh(member.tenant_id, request.path_params["provider_id"]))
    return respond(tools.view(server))


async def set_tool_settings(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    body = await json_body(request, McpToolSettingsRequest)
    tools = _mcp_tools(member)
    server = await _answer(tools.set_tool_settings(
        member.tenant_id, request.path_params["provider_id"], request.path_params["tool_name"],
        description=body.description, fixed=body.fixed,
    ))
    return respond(tools.view(server))


def _redirect_uri(request: Request, member: Member) -> str:
    """The callback's URL as browsers reach it: under ``[server] public_url`` when set (behind a proxy),
    else under the URL this request came to."""
    public = member.state.service.supervisor.settings.server.public_url.rstrip("/")
    base = public or f"{request.url.scheme}://{request.url.netloc}"
    return f"{base}{request.scope.get('root_path', '')}{OAUTH_CALLBACK}"


async def authorize_server(request: Request) -> Response:
    member = await workspace_member(request, Action.TOOLS_MANAGE)
    body = await json_body(request, McpAuthRequest)
    tools = _mcp_tools(member)
    found = await _answer(tools.server(member.tenant_id, body.provider_id))
    url = await _answer(tools.start_authorization(member.tenant_id, found.server_id, _redirect_uri(request, member)))
    return respond({"result": "pending", "authorization_url": url})


async def oauth_callback(request: Request) -> Response:
    query = query_params(request, McpOAuthCallbackQuery)
    tools = console_state(request).service.supervisor.mcp_tools
    error = f"{query.error}: {query.error_description}" if query.error_description else query.error
    server = await _answer(tools.complete_authorization(query.state, query.code, error=error))
    return respond({"result": "success", "provider": tools.view(server)})


_PROVIDER = "/workspaces/current/tool-provider/mcp"

ROUTES = [
    endpoint("/workspaces/current/tools/mcp", list_servers, ["GET"]),
    endpoint(_PROVIDER, create_server, ["POST"]),
    endpoint(_PROVIDER, update_server, ["PUT"]),
    endpoint(_PROVIDER, delete_server, ["DELETE"]),
    endpoint(_PROVIDER + "/tools/{provider_id}", get_server, ["GET"]),
    endpoint(_PROVIDER + "/update/{provider_id}", refresh_server, ["GET"]),
    endpoint(_PROVIDER + "/tools/{provider_id}/{tool_name}/settings", set_tool_settings, ["POST"]),
    endpoint(_PROVIDER + "/auth", authorize_server, ["POST"]),
    endpoint(OAUTH_CALLBACK, oauth_callback, ["GET"]),
]
