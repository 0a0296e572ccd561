"""The first-party plugins as an operator gets them: the default plan, one ``first-party`` host process
serving the ``fake`` model provider and the basic tools."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from treadle.config import Settings
from treadle.plugins import FIRST_PARTY_GROUP, PluginSupervisor
from treadle_sdk.model_runtime import InvokeLLMArgs, LLMResultChunk, PromptMessage
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

from .support import call_tool, pid_alive, row_of, short_home

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def default_settings() -> Iterator[Settings]:
    """The configuration of an install with no treadle.toml and no TREADLE_* variables."""
    with pytest.MonkeyPatch.context() as patch, short_home() as home:
        for name in list(os.environ):
            if name.startswith("TREADLE_"):
                patch.delenv(name)
        patch.chdir(home)
        yield Settings.load(home=home)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisor(default_settings: Settings) -> AsyncIterator[PluginSupervisor]:
    async with PluginSupervisor(default_settings) as supervisor:
        yield supervisor


async def test_the_default_plan_runs_both_plugins_in_one_first_party_host(supervisor: PluginSupervisor) -> None:
    fake, tools = row_of(supervisor, "fake"), row_of(supervisor, "basic-tools")
    for row in (fake, tools):
        assert (row["group"], row["isolation"], row["state"], row["error"]) == (
            FIRST_PARTY_GROUP,
            "process",
            "running",
            "",
        )
        assert row["version"] == "0.1.0"
    assert isinstance(fake["pid"], int) and pid_alive(fake["pid"])
    assert fake["pid"] == tools["pid"] != os.getpid()
    assert fake["registers"] == ["model_provider:fake"]
    assert tools["registers"] == ["tool_provider:maths", "tool_provider:time"]
    assert (fake["distribution"], tools["distribution"]) == ("treadle-plugin-fake", "treadle-plugin-basic-tools")


async def test_the_fake_echo_model_streams_its_answer_a_word_a_chunk(supervisor: PluginSupervisor) -> None:
    """PLUG-TYPE-MODEL, PLUG-MODEL-IFACE: ``invoke_llm`` streams across the process boundary."""
    words = [f"word{i}" for i in range(200)]
    args = InvokeLLMArgs(model="echo", prompt_messages=[PromptMessage(role="user", content=" ".join(words))])
    chunks = [chunk async for chunk in supervisor.invoke("model_provider", "fake", "invoke_llm", args)]
    assert all(isinstance(chunk, LLMResultChunk) for chunk in chunks)
    assert len(chunks) == len(words)
    assert [chunk.delta.index for chunk in chunks] == list(range(len(words)))
    assert "".join(chunk.delta.message.content for chunk in chunks).split() == words
    assert [chunk.delta.finish_reason for chunk in chunks][-2:] == [None, "stop"]
    assert chunks[-1].delta.usage is not None and chunks[-1].delta.usage.completion_tokens == len(words)


async def test_the_maths_tool_evaluates_an_expression(supervisor: PluginSupervisor) -> None:
    """PLUG-TYPE-TOOL: Dify's built-in ``maths`` provider name and tool."""
    assert await call_tool(supervisor, "maths", "eval_expression", expression="2 * (3 + 4)") == [
        TextMessage(text="14"),
        JsonMessage(json_object={"result": 14}),
    ]
