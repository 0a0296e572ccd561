"""Where the llm-family nodes run by default (DESIGN.md, "Default placement"): inline, while the
model provider they call runs in the first-party host process; chunks still stream as they come."""

from __future__ import annotations

from pathlib import Path

from treadle.apps import MemoryConversationHistory, RunRequest
from treadle.config import Settings
from treadle.plugins import FIRST_PARTY_GROUP, PluginSupervisor

from .support import TENANT, answer, llm, run, script_model, start


async def test_llm_nodes_run_inline_and_call_a_provider_in_its_host_process(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path, plugins={"load": ["core-nodes", "llm-nodes", "fake"]})
    async with PluginSupervisor(settings) as supervisor:
        groups = {row["name"]: (row["group"], row["isolation"]) for row in supervisor.table()}
        assert groups["llm-nodes"] == ("inline", "inline")
        assert groups["fake"] == (FIRST_PARTY_GROUP, "process")
        nodes = [
            start(),
            llm(model=script_model("Streams across hosts."), prompt_template=[{"role": "user", "text": "hi"}]),
            answer("{{#llm.text#}}"),
        ]
        done = await run(supervisor, nodes, mode="advanced-chat", request=RunRequest(query="hi"))
    assert done.result.status == "succeeded", done.result.error
    assert done.chunks() == ["Streams ", "across ", "hosts."]


async def test_moved_out_of_process_the_llm_node_still_streams(tmp_path: Path) -> None:
    """An operator may place the plugin in a host process: the node then calls the model with its
    invocation's own way back into the kernel, and its chunks cross the process boundary."""
    settings = Settings.load(
        home=tmp_path, plugins={"load": ["core-nodes", "llm-nodes", "fake"], "placement": {"llm-nodes": "models"}}
    )
    async with PluginSupervisor(settings) as supervisor:
        nodes = [
            start(),
            llm(model=script_model("Out of process."), prompt_template=[{"role": "user", "text": "{{#sys.query#}}"}]),
            answer("{{#llm.text#}}"),
        ]
        done = await run(supervisor, nodes, mode="advanced-chat", request=RunRequest(query="hi"))
    assert done.result.status == "succeeded", done.result.error
    assert done.chunks() == ["Out ", "of ", "process."]
    assert done.prompts() == [{"role": "user", "text": "hi", "files": []}]


async def test_moved_out_of_process_the_llm_node_reads_its_workspaces_memory(tmp_path: Path) -> None:
    """Out of process, the node still gets the run's system variables it reads without naming them
    (sys.conversation_id for memory, sys.query), and its kernel calls are made for the run's
    workspace: the history it reads is that workspace's (NODE-LLM "Memory")."""
    history = MemoryConversationHistory()
    history.append(TENANT, "conv-9", "I am Ada.", "Hi Ada.")
    history.append("another-workspace", "conv-9", "I am Bob.", "Hi Bob.")
    settings = Settings.load(
        home=tmp_path, plugins={"load": ["core-nodes", "llm-nodes", "fake"], "placement": {"llm-nodes": "models"}}
    )
    async with PluginSupervisor(settings, history=history) as supervisor:
        node = llm(
            model=script_model("unused", "You are Ada."),
            memory={"role_prefix": {"user": "", "assistant": ""}, "window": {"enabled": True, "size": 5}},
            prompt_template=[{"role": "system", "text": "Be brief."}],
        )
        request = RunRequest(query="Who am I?", conversation_id="conv-9")
        done = await run(supervisor, [start(), node, answer("{{#llm.text#}}")], mode="advanced-chat", request=request)
    assert done.result.status == "succeeded", done.result.error
    assert done.result.answer == "You are Ada."
    assert [(p["role"], p["text"]) for p in done.prompts()] == [
        ("system", "Be brief."),
        ("user", "I am Ada."),
        ("assistant", "Hi Ada."),
        ("user", "Who am I?"),
    ]
