from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from treadle.apps import MemoryConversationHistory
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor

from .server import ChatServer
from .support import ServerCredentials

NATIVE = f"{__package__}.plugins_for_tests.native_provider"
FIXTURE = f"{__package__}.plugins_for_tests.fixture_node"


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ChatServer]:
    with ChatServer() as running:
        yield running


@pytest.fixture
def server(chat_server: ChatServer) -> Iterator[ChatServer]:
    chat_server.reset()
    yield chat_server
    chat_server.reset()


@pytest.fixture
def history() -> MemoryConversationHistory:
    return MemoryConversationHistory()


@pytest.fixture
async def supervisor(
    tmp_path: Path, server: ChatServer, history: MemoryConversationHistory
) -> AsyncIterator[PluginSupervisor]:
    """Every plugin the tests need, inline (llm-nodes is inline by default; the providers are put
    there too so the tests start no host process)."""
    plugins = (
        PluginSpec("core-nodes"),
        PluginSpec("llm-nodes"),
        PluginSpec("fake"),
        PluginSpec("openai-compat"),
        PluginSpec(NATIVE, path=NATIVE),
        PluginSpec(FIXTURE, path=FIXTURE),
    )
    running = PluginSupervisor(
        Settings.load(home=tmp_path), groups=[GroupPlan("inline", True, plugins)], history=history
    )
    running.models.credentials = ServerCredentials(server.url)
    # Stopping the supervisor closes its extensions (the providers' HTTP clients among them).
    async with running:
        yield running
