"""Connecting to an MCP server over HTTP: streamable HTTP first, the legacy HTTP+SSE transport when the
server does not speak it, every connection through the SSRF guard.

:func:`connected` opens an :class:`mcp.Client` on the server a :class:`ServerTarget` describes, runs
one piece of work with it and closes it; the work never outlives the connection (a tool call opens
its own, as Dify's MCP tools do). Failures become :class:`~treadle_mcp_tools.errors.McpToolError`
naming the server and what went wrong, :class:`~treadle_mcp_tools.errors.McpToolRefused` when
the guard refused the address, or :class:`~treadle_mcp_tools.errors.McpAuthorizationRequired` when
the server answered 401 (it wants an OAuth access token, or a better one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.ssrf import SSRFGuard, SSRFRefused
from treadle_sdk.ssrf_httpx2 import guarded_client

from .errors import McpAuthorizationRequired, McpToolError, McpToolRefused

__all__ = ["TRANSPORTS", "ServerTarget", "connected"]

#: How a server is reached: ``auto`` tries streamable HTTP, then SSE.
TRANSPORTS = ("auto", "streamable_http", "sse")

_SHOWN = {"streamable_http": "streamable HTTP", "sse": "SSE"}

T = TypeVar("T")


@dataclass(frozen=True)
class ServerTarget:
    """An MCP server: its URL, the headers every request carries (an API key, a bearer token), the
    transport to use, and timeouts in seconds (``timeout`` for each HTTP exchange, ``sse_read_timeout``
    for waiting on the server's answer; Dify's defaults)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    transport: str = "auto"
    timeout: float = 30.0
    sse_read_timeout: float = 300.0

    @property
    def shown(self) -> str:
        """The URL as errors show it: without its query, which may carry a key."""
        return str(httpx2.URL(self.url).copy_with(query=None))[:200]

    @classmethod
    def parse(cls, parameters: Mapping[str, Any], credentials: Mapping[str, Any]) -> ServerTarget:
        """The target of a tool call: ``server_url``, ``transport``, ``timeout`` and
        ``sse_read_timeout`` from its parameters, ``headers`` (an object of strings) from its
        credentials."""
        headers = credentials.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise PluginInvalidArgument("credentials.headers must be an object of header names to strings")
        for name, value in headers.items():
            if not name or any(ch in name for ch in "\r\n\0:") or any(ch in value for ch in "\r\n\0"):
                raise PluginInvalidArgument(
                    f"header {name!r} has a line break, NUL or colon where none may be", details={"field": "headers"}
                )
        transport = str(parameters.get("transport") or "auto")
        if transport not in TRANSPORTS:
            raise PluginInvalidArgument(
                f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}",
                details={"parameter": "transport"},
            )
        return cls(
            url=str(parameters["server_url"]),
            headers=dict(headers),
            transport=transport,
            timeout=float(parameters.get("timeout") or cls.timeout),
            sse_read_timeout=float(parameters.get("sse_read_timeout") or cls.sse_read_timeout),
        )


class _Challenges(httpx2.Auth):
    """Adds nothing to requests; keeps the ``WWW-Authenticate`` header of the first 401 answer, which
    the transports turn into an error that no longer says it was a 401."""

    def __init__(self) -> None:
        self.challenge: str | None = None

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        response = yield request
        if response.status_code == 401 and self.challenge is None:
            self.challenge = response.headers.get("WWW-Authenticate", "")


def _leaves(error: BaseException) -> list[BaseException]:
    """The errors an exception group holds (the MCP transports run in task groups), in order."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _cause(error: BaseException) -> BaseException:
    """The error that says what went wrong: the first leaf that is not a cancellation of its siblings."""
    leaves = _leaves(error)
    for leaf in leaves:
        if not isinstance(leaf, KeyboardInterrupt | SystemExit) and type(leaf).__name__ != "CancelledError":
            return leaf
    return leaves[0]


def _reason(error: BaseException) -> str:
    """What went wrong, in words."""
    if isinstance(error, MCPError):
        return f"{error.message} (MCP error {error.code})"
    if isinstance(error, httpx2.HTTPStatusError):
        response = error.response
        return f"it answered HTTP {response.status_code} {response.reason_phrase} to {error.request.method}"
    if isinstance(error, httpx2.TimeoutException | TimeoutError):
        return f"it did not answer in time ({type(error).__name__})"
    if isinstance(error, httpx2.HTTPError):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


def _speaks_http(error: BaseException) -> bool:
    """Whether the server answered, only not as a streamable HTTP MCP server would (so SSE may work)."""
    return isinstance(error, MCPError | httpx2.HTTPStatusError)


async def _attempt(
    target: ServerTarget,
    transport: str,
    guard: SSRFGuard,
    work: Callable[[Client, str], Awaitable[T]],
    challenges: _Challenges,
) -> T:
    """One connection over ``transport``, closed (with its HTTP client) whatever happens; a 401 answer
    is kept in ``challenges``."""
    if transport == "sse":

        def factory(
            headers: dict[str, str] | None = None,
            timeout: httpx2.Timeout | None = None,
            auth: httpx2.Auth | None = None,
        ) -> httpx2.AsyncClient:
            return guarded_client(guard, headers=headers, timeout=timeout, auth=auth)

        stream = sse_client(
            target.url,
            headers=dict(target.headers),
            timeout=target.timeout,
            sse_read_timeout=target.sse_read_timeout,
            httpx_client_factory=factory,
            auth=challenges,
        )
        async with Client(stream, read_timeout_seconds=target.sse_read_timeout) as client:
            return await work(client, transport)
    timeout = httpx2.Timeout(target.timeout, read=target.sse_read_timeout)
    # The transport leaves a client it was given open: it is closed here.
    async with guarded_client(guard, headers=dict(target.headers), timeout=timeout, auth=challenges) as http:
        stream = streamable_http_client(target.url, http_client=http)
        async with Client(stream, read_timeout_seconds=target.sse_read_timeout) as client:
            return await work(client, transport)


async def connected(
    target: ServerTarget, guard: SSRFGuard, work: Callable[[Client, str], Awaitable[T]]
) -> T:
    """Connect to ``target`` (its transport, or streamable HTTP then SSE when it is ``auto``), run
    ``work(client, transport)``, disconnect, and return what the work returned.

    The URL is checked by the guard before anything is sent. With ``auto``, SSE is tried only when
    the server answered streamable HTTP with an HTTP or MCP error (not when it could not be reached);
    if SSE fails too, the error names both attempts. A 401 answer ends the attempts with
    :class:`McpAuthorizationRequired` carrying the server's challenge. Errors that
    :class:`McpToolError` already describes (raised by ``work``) pass through unchanged.
    """
    try:
        guard.check_url(target.url)
    except SSRFRefused as exc:
        raise McpToolRefused(str(exc), details={"host": exc.host, "reason": exc.reason}) from None
    order = ["streamable_http", "sse"] if target.transport == "auto" else [target.transport]
    failures: list[str] = []
    for transport in order:
        challenges = _Challenges()
        try:
            return await _attempt(target, transport, guard, work, challenges)
        except Exception as exc:
            cause = _cause(exc)
            if isinstance(cause, McpToolError):
                raise cause from None
            if isinstance(cause, SSRFRefused):
                raise McpToolRefused(str(cause), details={"host": cause.host, "reason": cause.reason}) from None
            if challenges.challenge is not None:
                sent = any(name.lower() == "authorization" for name in target.headers)
                raise McpAuthorizationRequired(
                    f"the MCP server at {target.shown} answered HTTP 401 Unauthorized over {_SHOWN[transport]}: "
                    + ("its access token was refused" if sent else "it requires authorization"),
                    details={"server_url": target.shown, "www_authenticate": challenges.challenge[:2000]},
                ) from None
            failures.append(f"over {_SHOWN[transport]}: {_reason(cause)}")
            if not _speaks_http(cause):
                break
    raise McpToolError(
        f"cannot use the MCP server at {target.shown}: {'; '.join(failures)}",
        details={"server_url": target.shown, "attempts": failures},
    )
