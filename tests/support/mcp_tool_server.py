"""A real MCP server for the tests of MCP client tools (WS-MCP-CLIENT), built with the MCP SDK's
``MCPServer`` and served by uvicorn on 127.0.0.1 over both HTTP transports: streamable HTTP at
``/mcp`` on one port, the legacy HTTP+SSE transport at ``/sse`` on another.

It keeps every tool call it ran and the headers of every HTTP request it received, so that a test
can tell that a tool really ran, with which arguments, and that the server's headers arrived.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import Icon
from starlette.types import ASGIApp, Receive, Scope, Send

from .local_server import LocalServer

__all__ = ["WeatherMcpServer"]

#: The icon the server declares (the console shows it without the builder picking one).
ICON = "https://weather.example/icon.png"


class _Recorder:
    """ASGI middleware keeping each request's method, path and headers."""

    def __init__(self, app: ASGIApp, seen: list[dict[str, Any]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.seen.append({"method": scope["method"], "path": scope["path"], "headers": headers})
        await self.app(scope, receive, send)


class WeatherMcpServer:
    """The "Weather" MCP server: ``forecast`` (text), ``conditions`` (structured), ``alert`` (fails
    with the message it is given). ``calls`` lists ``(tool, arguments)`` as they ran; ``requests`` the
    HTTP requests of both transports."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []
        server = MCPServer("Weather", version="1.0", icons=[Icon(src=ICON, mime_type="image/png")])

        @server.tool(description="The weather forecast of a city for the next days.")
        def forecast(city: str, days: int = 1) -> str:
            self.calls.append(("forecast", {"city": city, "days": days}))
            return f"Sunny in {city} for {days} day(s), 21 degrees"

        @server.tool(description="The conditions in a city now, as data.")
        def conditions(city: str) -> dict[str, Any]:
            self.calls.append(("conditions", {"city": city}))
            return {"city": city, "temperature": 21, "sky": "clear"}

        @server.tool(description="Raise a weather alert (always refused).")
        def alert(reason: str) -> str:
            self.calls.append(("alert", {"reason": reason}))
            raise ToolError(f"alerts are disabled: {reason}")

        self.mcp = server
        self._http = LocalServer(_Recorder(server.streamable_http_app(), self.requests), lifespan=True)
        self._sse = LocalServer(_Recorder(server.sse_app(), self.requests))

    @property
    def http_url(self) -> str:
        """The streamable HTTP endpoint."""
        return self._http.url_for("/mcp")

    @property
    def sse_url(self) -> str:
        """The SSE endpoint (the legacy transport)."""
        return self._sse.url_for("/sse")

    def __enter__(self) -> Self:
        self._http.start()
        self._sse.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._sse.stop()
        self._http.stop()
