"""The tool and agent nodes placed in a plugin host instead of inline: the node runs through the
``run`` operation, reads the variables sent with it, calls models and tools back through the
kernel with its own invocation's token, and its chunks and agent log entries come back as events."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from treadle.apps import RunRequest
from treadle.config import Settings
from treadle.models import ModelMapping
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor

from .model_server import AgentModelServer
from .support import QUESTION, ServerCredentials, agent_node, chatflow, run_app, workflow

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_nodes_run_in_a_plugin_host(model_server: AgentModelServer) -> None:
    """NODE-AGENT and NODE-TOOL out of process (PLUG-REVERSE-MODEL, PLUG-REVERSE-TOOL)."""
    model_server.clear()
    groups = [
        GroupPlan("inline", True, (PluginSpec("core-nodes"),)),
        GroupPlan("first-party", False, (PluginSpec("agent-nodes"), PluginSpec("basic-tools"),
                                         PluginSpec("openai-compat"))),
    ]
    with tempfile.TemporaryDirectory(prefix="tra-") as home:
        settings = Settings.load(home=Path(home))
        async with PluginSupervisor(settings, groups=groups, model_mapping=ModelMapping({"*": "openai_compat"})) as sup:
            sup.models.credentials = ServerCredentials(model_server.url)
            [row] = [row for row in sup.table() if row["name"] == "agent-nodes"]
            assert (row["group"], row["registers"]) == ("first-party", ["node_type:agent", "node_type:tool"])
            assert row["pid"] is not None
            nodes, edges = chatflow(agent_node("function_calling", "fc"))
            agent = await run_app(sup, nodes, edges, RunRequest(query=QUESTION), mode="advanced-chat")
            tool = {"type": "tool", "title": "Sum", "provider_id": "maths", "provider_type": "builtin",
                    "tool_name": "eval_expression",
                    "tool_parameters": {"expression": {"type": "mixed", "value": "{{#start.n#}} + 1"}}}
            nodes, edges = workflow(tool, variables=[{"variable": "n", "type": "number", "label": "N"}])
            summed = await run_app(sup, nodes, edges, RunRequest(inputs={"n": 41}))
    assert agent.result.status == "succeeded", agent.result.error
    year = int(model_server.seen[0][2][:4])
    assert agent.result.answer == f"The current year plus 10 is {year + 10}."
    labels = [entry["label"] for entry in agent.final_logs().values()]
    assert labels == ["ROUND 1", "fc Thought", "CALL current_time", "ROUND 2", "fc Thought", "CALL eval_expression",
                      "ROUND 3", "fc Thought"]
    assert summed.result.status == "succeeded", summed.result.error
    assert summed.result.outputs["text"] == "42"
