"""Shared test setup: tests marked ``postgres`` or ``redis`` need that server.

When the server does not answer, they are skipped with the reason shown, except under ``CI=true``,
where they fail. The addresses come from ``TREADLE_TEST_POSTGRES_URL`` / ``TREADLE_TEST_REDIS_URL``.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from urllib.parse import urlsplit

import pytest
from support.servers import POSTGRES_URL, REDIS_URL

_SERVERS = {"postgres": (POSTGRES_URL, 5432), "redis": (REDIS_URL, 6379)}


@cache
def _unreachable(marker: str) -> str | None:
    """Why the server of ``marker`` cannot be reached, or None when it answers."""
    url, default_port = _SERVERS[marker]
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or default_port)
    try:
        with socket.create_connection(address, timeout=1):
            return None
    except OSError as exc:
        return f"{marker} at {address[0]}:{address[1]} is unreachable ({exc})"


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in _SERVERS:
        if item.get_closest_marker(marker) is None:
            continue
        reason = _unreachable(marker)
        if reason is None:
            continue
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs every server: {reason}", pytrace=False)
        pytest.skip(reason)
