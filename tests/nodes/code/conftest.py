"""Fixtures of the code node tests: whether the sandbox (Linux namespaces, so root) and Node.js
are here. Without them the tests that need them are skipped with the reason, except under
``CI=true``, where they fail: CI runs as root with Node.js installed."""

from __future__ import annotations

import asyncio
import os

import pytest
from treadle_code_node import CodeExecutionError

from .support import NODE_TYPE, SETTINGS


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sandbox() -> None:
    """The sandbox can isolate code on this machine."""
    try:
        asyncio.run(NODE_TYPE.sandbox.run("python", "def main():\n    return {}\n", {}, SETTINGS.limits))
    except CodeExecutionError as exc:
        _missing(str(exc))


@pytest.fixture(scope="session")
def nodejs(sandbox: None) -> None:
    """Node.js is installed, for JavaScript code."""
    if NODE_TYPE.sandbox.node_binary() is None:
        _missing(NODE_TYPE.sandbox.missing_node_message())
