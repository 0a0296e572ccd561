"""Fixtures of the tool and agent node tests: the local model server, and one plugin supervisor per
module running the core and agent nodes inline, and the basic tools, the test tools and the
OpenAI-compatible model provider in a plugin host, with every model routed to that provider and the
test server."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from treadle.config import Settings
from treadle.models import ModelMapping
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor

from .model_server import AgentModelServer
from .support import PastTurns, ServerCredentials

#: A tool provider whose tools send every kind of message, and fail.
STORY_TOOLS = f"{__package__}.plugins_for_tests.story_tools"


@pytest.fixture(scope="module")
def model_server() -> Iterator[AgentModelServer]:
    with AgentModelServer() as running:
        yield running


@pytest.fixture(scope="module")
def past_turns() -> PastTurns:
    return PastTurns()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisor(model_server: AgentModelServer, past_turns: PastTurns) -> AsyncIterator[PluginSupervisor]:
    groups = [
        GroupPlan("inline", True, (PluginSpec("core-nodes"), PluginSpec("agent-nodes"))),
        GroupPlan(
            "first-party",
            False,
            (PluginSpec("basic-tools"), PluginSpec("openai-compat"), PluginSpec(STORY_TOOLS, path=STORY_TOOLS)),
        ),
    ]
    # A short home: the host's socket lives under it.
    with tempfile.TemporaryDirectory(prefix="tra-") as home:
        settings = Settings.load(home=Path(home))
        mapping = ModelMapping({"*": "openai_compat"})
        async with PluginSupervisor(settings, groups=groups, model_mapping=mapping, history=past_turns) as running:
            running.models.credentials = ServerCredentials(model_server.url)
            yield running


@pytest.fixture
def server(model_server: AgentModelServer) -> AgentModelServer:
    """The model server, with the requests of earlier tests forgotten."""
    model_server.clear()
    return model_server
