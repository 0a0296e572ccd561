from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from treadle_openai_compat import OpenAICompatProvider
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.registry import Registry
from treadle_sdk.testing import load

from .server import OpenAIServer


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


class _Plugin:
    """Registers one provider instance, so the test can close its HTTP client afterwards."""

    def __init__(self, provider: OpenAICompatProvider) -> None:
        self.provider = provider

    @hookimpl
    def register_models(self, register: Any) -> None:
        register(self.provider)


@pytest.fixture
async def registry(server: OpenAIServer) -> AsyncIterator[Registry]:
    server.requests.clear()
    provider = OpenAICompatProvider()
    try:
        yield load(_Plugin(provider), "openai-compat")
    finally:
        await provider.aclose()
