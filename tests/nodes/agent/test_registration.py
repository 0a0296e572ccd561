"""The plugin as the kernel loads it: two node types, registered through the plugin's hook, and run
inline by default."""

from __future__ import annotations

import importlib.metadata

import treadle_agent_nodes
from treadle.config import PluginSettings
from treadle.plugins import plan_groups
from treadle_sdk.testing import load


def test_hook_register_node_types_registers_tool_and_agent() -> None:
    """NODE-TOOL, NODE-AGENT: one NodeType per DSL node type."""
    registry = load(treadle_agent_nodes)
    assert sorted(registry.extensions.names("node_type")) == ["agent", "tool"]


def test_the_entry_point_names_the_package() -> None:
    [entry] = [ep for ep in importlib.metadata.entry_points(group="treadle") if ep.name == "agent-nodes"]
    assert entry.value == "treadle_agent_nodes"
    assert entry.dist is not None and entry.dist.name == "treadle-plugin-agent-nodes"


def test_the_nodes_run_inline_by_default() -> None:
    """They run no foreign code themselves: models and tools they call run in their own hosts."""
    [inline] = [group for group in plan_groups(PluginSettings(load=["agent-nodes"])) if group.inline]
    assert [spec.name for spec in inline.plugins] == ["agent-nodes"]
