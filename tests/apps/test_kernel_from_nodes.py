"""Nodes reach the kernel through ``NodeRuntime.kernel`` during a run (a tool here; models for the
llm-family nodes), inline and from a plugin host (PLUG-REVERSE-TOOL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from treadle.apps import RunRequest, WorkflowApp
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory

PLUGIN = f"{__package__}.plugins_for_tests.calculating_node"

NODES = [
    {"id": "start", "data": {"type": "start", "title": "Start", "variables": [
        {"variable": "n", "label": "N", "type": "number", "required": True}]}},
    {"id": "calc", "data": {"type": "calculate", "title": "Calc", "expression": "{{#start.n#}} * 6"}},
    {"id": "end", "data": {"type": "end", "title": "End", "outputs": [
        {"variable": "answer", "value_selector": ["calc", "result"]}]}},
]
EDGES = [
    {"id": "a", "source": "start", "target": "calc", "sourceHandle": "source"},
    {"id": "b", "source": "calc", "target": "end", "sourceHandle": "source"},
]


@pytest.mark.parametrize("inline", [True, False])
async def test_a_node_invokes_a_tool_through_the_kernel(tmp_path: Path, inline: bool) -> None:
    settings = Settings.load(home=tmp_path)
    groups = [
        GroupPlan("inline", True, (PluginSpec("core-nodes"), *([PluginSpec(PLUGIN, path=PLUGIN)] if inline else []))),
        GroupPlan("first-party", False, (PluginSpec("basic-tools"),)),
    ]
    if not inline:
        groups.append(GroupPlan("calc", False, (PluginSpec(PLUGIN, path=PLUGIN),)))
    async with PluginSupervisor(settings, groups=groups) as supervisor:
        app = WorkflowApp(mode="workflow", nodes=NODES, edges=EDGES, factory=PluginNodeFactory(supervisor))
        with supervisor.kernel_client(tenant_id="t1") as kernel:
            result = await app.run(RunRequest(inputs={"n": 7}), kernel=kernel)
        without = await app.run(RunRequest(inputs={"n": 7}))
    assert result.status == "succeeded", result.error
    assert result.outputs == {"answer": "42"}
    if inline:
        # Inline nodes reach the kernel only through the run's client.
        assert without.status == "failed"
        assert "no way back into the kernel" in without.error
    else:
        # A node in a plugin host calls back with its own invocation's token.
        assert without.status == "succeeded", without.error
