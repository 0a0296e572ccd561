"""Fixtures of the document extractor tests: the local HTTP test server, for files given by URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..http.server import LocalServer, local_server


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running
