"""Shared test setup: tests marked ``postgres`` or ``redis`` need that server; the Dify DSL corpus
table (support.corpus_table) is gathered from the test reports and printed at the end.

When the server does not answer, they are skipped with the reason shown, except under ``CI=true``,
where they fail. The addresses come from ``TREADLE_TEST_POSTGRES_URL`` / ``TREADLE_TEST_REDIS_URL``.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import corpus_table
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    if call.when == "teardown":
        outcome.get_result().user_properties.extend(corpus_table.take_pending())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    corpus_table.gather(report.user_properties)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    lines = corpus_table.summary_lines()
    if lines:
        terminalreporter.section("Dify DSL corpus")
        for line in lines:
            terminalreporter.write_line(line)
