"""Helpers of the HTTP node tests: guards that may reach only the local test server, node configs in
Dify's DSL shape, a network that records every connection, and running a node."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpcore
from treadle_http_node import HttpLimits, HttpRequestNodeType, SSRFGuard
from treadle_sdk.nodes import NodeResult, WireRuntime
from treadle_sdk.ssrf import Resolver

__all__ = ["LOOPBACK", "RecordingNetwork", "config", "echo_of", "guard", "node_type", "run"]

#: What the tests allow-list: the local test server's address, nothing else.
LOOPBACK = ("127.0.0.1",)


class RecordingNetwork(httpcore.AsyncNetworkBackend):
    """The network under a guard in tests: records every connection asked for, and connects only to
    127.0.0.1. Any other address fails here, so a test can never send traffic elsewhere."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"the test network does not reach {host}")
        return await self._real.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no Unix sockets in these tests")

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


def guard(
    *,
    allow: Sequence[str] = LOOPBACK,
    resolver: Resolver | None = None,
    network: RecordingNetwork | None = None,
) -> SSRFGuard:
    """A guard that ignores the developer's TREADLE_SSRF_ALLOW and uses ``network`` (a fresh
    :class:`RecordingNetwork` by default)."""
    return SSRFGuard(allow=allow, resolver=resolver, environ={}, network_backend=network or RecordingNetwork())


def node_type(*, limits: HttpLimits | None = None, **guard_args: Any) -> HttpRequestNodeType:
    return HttpRequestNodeType(guard=guard(**guard_args), limits=limits or HttpLimits())


def config(url: str, method: str = "get", **fields: Any) -> dict[str, Any]:
    """An http-request node's data as Dify exports it (see the corpus), with ``fields`` replaced."""
    data: dict[str, Any] = {
        "type": "http-request",
        "title": "HTTP Request",
        "desc": "",
        "selected": False,
        "variables": [],
        "method": method,
        "url": url,
        "authorization": {"type": "no-auth", "config": None},
        "headers": "",
        "params": "",
        "body": {"type": "none", "data": []},
        "timeout": {"max_connect_timeout": 0, "max_read_timeout": 0, "max_write_timeout": 0},
    }
    data.update(fields)
    return data


async def run(
    data: Mapping[str, Any],
    variables: Mapping[tuple[str, ...], Any] | None = None,
    nodes: HttpRequestNodeType | None = None,
) -> NodeResult:
    """Prepare and run one node as a plugin host would, with ``variables`` readable."""
    prepared = (nodes or node_type()).prepare("http", dict(data))
    result = await prepared.run(WireRuntime("http", dict(variables or {})))
    assert isinstance(result, NodeResult)
    return result


def echo_of(result: NodeResult) -> dict[str, Any]:
    """What the test server's /echo saw: method, path, query, headers (lower-case names), body."""
    echo: dict[str, Any] = json.loads(result.outputs["body"])
    echo["header"] = dict(echo["headers"])
    return echo
