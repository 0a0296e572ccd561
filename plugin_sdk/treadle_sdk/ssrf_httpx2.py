"""The SSRF guard for httpx2 clients: the HTTP stack of the MCP SDK (``mcp`` 2.x), a fork of httpx and
httpcore with the same API under other package names.

An MCP client connects with the transports of the ``mcp`` package, which take an ``httpx2`` client
(streamable HTTP) or a factory of them (SSE). :func:`guarded_client` makes one whose every connection
is vetted by an :class:`~treadle_sdk.ssrf.SSRFGuard` and made to the very address that was checked,
as :meth:`SSRFGuard.client <treadle_sdk.ssrf.SSRFGuard.client>` does for httpx. It lives in its own
module so that plugins without MCP do not import httpx2 (the SDK's ``httpx2`` extra).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

from .ssrf import SSRFGuard, SSRFRefused

__all__ = ["GuardedHttpx2Backend", "GuardedHttpx2Transport", "guarded_client"]


class GuardedHttpx2Backend(httpcore2.AsyncNetworkBackend):
    """httpcore2's network layer, checking each destination with the guard and connecting to the
    address checked (TLS then starts with the original host name, as with httpcore)."""

    def __init__(self, guard: SSRFGuard, inner: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        async def dial(address: str, remaining: float | None) -> httpcore2.AsyncNetworkStream:
            return await self._inner.connect_tcp(address, port, remaining, local_address, socket_options)

        return await self._guard.connect(
            host, port, timeout, dial, timeout_error=httpcore2.ConnectTimeout, connect_error=httpcore2.ConnectError
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise SSRFRefused(f"refused: the Unix socket {path} is not a network destination", host=path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedHttpx2Transport(httpx2.AsyncHTTPTransport):
    """httpx2's own transport (its request and error mapping) on a connection pool whose network
    layer is guarded. Proxies are not supported: a proxy would make the connections instead."""

    def __init__(self, backend: GuardedHttpx2Backend, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx2 builds its pool without a way to choose the network layer; this one replaces it.
        self._pool = httpcore2.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)


def guarded_client(
    guard: SSRFGuard,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    verify: bool = True,
) -> httpx2.AsyncClient:
    """An httpx2 client guarded by ``guard``, with the arguments of the MCP SDK's client factories
    (``headers``, ``timeout``, ``auth``). It follows no redirects itself (the MCP transports follow
    same-origin ones, through this same client) and ignores proxy settings of the environment."""
    transport = GuardedHttpx2Transport(GuardedHttpx2Backend(guard), guard.ssl_context(verify))
    return httpx2.AsyncClient(
        transport=transport,
        headers=headers,
        timeout=timeout if timeout is not None else httpx2.Timeout(30.0, read=300.0),
        auth=auth,
        follow_redirects=False,
        trust_env=False,
    )
