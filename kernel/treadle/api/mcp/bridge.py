"""The stdio side of ``treadle mcp stdio``: desktop MCP clients (Claude Desktop, Cursor) that start a
command and talk to it over stdin/stdout reach an app either through a running server (a relay of
each request to its streamable HTTP URL) or by running the app in this process.

Either way the client sees the same server: one tool, the app, with progress notifications relayed
and failures as tool errors. A relay that cannot reach the server answers every call with a tool
error saying so (and a listing with a protocol error), so the client shows why.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from ... import __version__
from .server import SERVER_NAME, build_server
from .tool import AppTarget

__all__ = ["relay_server", "serve_stdio", "serve_target"]

#: How long the relay waits for the server to answer one request (a run may take this long).
RELAY_TIMEOUT = 600.0


def _reason(exc: BaseException) -> str:
    """The innermost cause of a failure, as a person reads it (task groups wrap them in groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


def relay_server(url: str, headers: Mapping[str, str] | None = None) -> Server[Any]:
    """A server that passes each request on to the MCP server at ``url`` (with ``headers``, e.g. a
    Bearer key), and its progress notifications back."""

    @contextlib.asynccontextmanager
    async def upstream() -> AsyncIterator[Client]:
        timeout = httpx2.Timeout(RELAY_TIMEOUT, connect=10.0)
        async with httpx2.AsyncClient(headers=dict(headers or {}), timeout=timeout) as http:
            async with Client(streamable_http_client(url, http_client=http), mode="auto") as client:
                yield client

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            async with upstream() as client:
                return await client.list_tools()
        except Exception as exc:
            message = f"the Treadle server at {url} did not answer: {_reason(exc)}"
            raise MCPError(types.INTERNAL_ERROR, message) from None

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        token = (ctx.meta or {}).get("progress_token")
        request_id = None if ctx.request_id is None else str(ctx.request_id)

        async def relay(progress: float, total: float | None, message: str | None) -> None:
            if token is not None:
                await ctx.session.send_progress_notification(
                    token, progress, total, message, related_request_id=request_id
                )

        try:
            async with upstream() as client:
                return await client.call_tool(params.name, params.arguments, progress_callback=relay)
        except Exception as exc:
            message = f"the Treadle server at {url} did not answer: {_reason(exc)}"
            return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)

    return Server(SERVER_NAME, version=__version__, on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(make: Callable[[], AbstractAsyncContextManager[Server[Any]]]) -> None:
    """Serve the server ``make`` gives over this process's stdin and stdout until the client closes
    stdin. It is made once stdout is claimed for the protocol (fd 1 then points at stderr), so the
    plugin hosts a local run starts cannot write into the protocol stream."""
    async with stdio_server() as (read, write), make() as server:
        await server.run(read, write, server.create_initialization_options())


def serve_target(target: AppTarget) -> Server[Any]:
    """A server whose one tool is ``target``'s app, run in this process."""

    async def resolve(ctx: ServerRequestContext[Any, Any]) -> AppTarget:
        return target

    return build_server(resolve)
