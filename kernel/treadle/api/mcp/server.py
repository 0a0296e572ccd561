"""Published apps as MCP servers over streamable HTTP (PUB-MCP-SERVER), at
``/mcp/server/<server_code>/mcp``.

One low-level MCP server (the ``mcp`` SDK's :class:`~mcp.server.lowlevel.Server`) serves every app:
each request finds its app from the code in its path before the SDK sees it. The SDK's session
manager runs stateless, so any server process (``serve --workers N``) answers any request, and it
speaks both the 2026-07-28 protocol (no handshake) and the earlier ``initialize`` handshake.

Authentication: the code in the URL is the credential (an unknown, regenerated or switched-off code
is 404); a server set to require it also needs ``Authorization: Bearer <an app key of the app>``
(401 otherwise). Both answer with a JSON-RPC error body, so MCP clients show the reason. The code
is looked up on every request, so a regenerated URL stops working at once in every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ... import __version__
from ...runtime.mcp_servers import server_by_code
from ...tenancy import InvalidApiKey, bearer_token
from ..errors import ApiError
from ..service.state import ServiceApp, service_state
from .tool import AppTarget, call_app_tool, describe_app_tool

__all__ = ["SERVER_NAME", "McpEndpoint", "build_server"]

log = logging.getLogger(__name__)

#: The server name MCP clients are told.
SERVER_NAME = "Treadle"
_SCOPE_KEY = "treadle.mcp_target"

#: Finds the app a request is for.
Resolve = Callable[[ServerRequestContext[Any, Any]], Awaitable[AppTarget]]


def build_server(resolve: Resolve) -> Server[Any]:
    """A low-level MCP server with one tool per app: ``resolve`` says which app a request reaches
    (from the HTTP request's path, or the one app of a stdio bridge)."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        target = await resolve(ctx)
        try:
            tool = await describe_app_tool(target)
        except ApiError as exc:
            raise MCPError(types.INVALID_REQUEST, exc.message) from None
        return types.ListToolsResult(tools=[tool])

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        target = await resolve(ctx)
        token = (ctx.meta or {}).get("progress_token")
        if token is None:
            return await call_app_tool(target, params.name, params.arguments)
        sent = 0
        # Progress travels on the stream answering this request (its id as the transport keys it).
        request_id = None if ctx.request_id is None else str(ctx.request_id)

        async def progress(message: str) -> None:
            nonlocal sent
            sent += 1
            try:
                await ctx.session.send_progress_notification(
                    token, sent, None, message, related_request_id=request_id
                )
            except Exception:  # the client went away: the run goes on and is kept
                log.debug("progress notification %d not delivered", sent, exc_info=True)

        return await call_app_tool(target, params.name, params.arguments, progress)

    return Server(SERVER_NAME, version=__version__, on_list_tools=list_tools, on_call_tool=call_tool)


async def _target_of_request(ctx: ServerRequestContext[Any, Any]) -> AppTarget:
    request = ctx.request
    target = request.scope.get(_SCOPE_KEY) if isinstance(request, Request) else None
    if not isinstance(target, AppTarget):  # only reachable through McpEndpoint, which sets it
        raise MCPError(types.INTERNAL_ERROR, "the request reached the MCP server without its app")
    return target


class McpEndpoint:
    """The ASGI endpoint of every app's MCP server; :meth:`run` must be entered in the lifespan."""

    def __init__(self) -> None:
        self.server = build_server(_target_of_request)
        # No DNS-rebinding check on the Host header: a page cannot guess the code the URL embeds.
        self.manager = StreamableHTTPSessionManager(
            app=self.server,
            stateless=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run the SDK's session manager for as long as the block lasts. Its task group lives in a
        task of its own, so the block may end in another task than the one it began in (a test
        harness's fixture does that; uvicorn's lifespan does not)."""
        ready, done = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with self.manager.run():
                ready.set()
                await done.wait()

        task = asyncio.get_running_loop().create_task(serve())
        waiting = asyncio.get_running_loop().create_task(ready.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            waiting.cancel()
            task.result()  # it failed to start: say why
        try:
            yield
        finally:
            done.set()
            await task

    def route(self) -> Route:
        return Route("/mcp/server/{server_code}/mcp", self, methods=["GET", "POST", "DELETE"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state = service_state(request)
        found = await server_by_code(state.db, str(scope["path_params"]["server_code"]))
        if found is None:
            response = _refusal(
                404, "No MCP server answers at this URL: its code is wrong or was regenerated, or the server "
                "is switched off."
            )
            await response(scope, receive, send)
            return
        server, row = found
        app = ServiceApp.of(row)
        if server.require_api_key:
            refusal = await _refused_key(request, app)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        scope[_SCOPE_KEY] = AppTarget(state, app, server)
        await self.manager.handle_request(scope, receive, send)


async def _refused_key(request: Request, app: ServiceApp) -> Response | None:
    """None when the request carries an app key of ``app``; the 401 answer otherwise."""
    state = service_state(request)
    try:
        key_app = await state.app_of_key(bearer_token(request.headers.get("authorization")))
    except InvalidApiKey as exc:
        message = f"This MCP server needs one of its app's API keys as a Bearer token: {exc}"
    except ApiError as exc:
        message = exc.message
    else:
        if key_app.id == app.id:
            return None
        message = "The Bearer token is an API key of another app."
    return _refusal(401, message, {"WWW-Authenticate": 'Bearer realm="treadle-mcp"'})


def _refusal(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A request refused before the MCP server sees it: the HTTP status, and a JSON-RPC error as the
    body (``id`` null: the request was not read), which MCP clients show their users."""
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": types.INVALID_REQUEST, "message": message}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))
