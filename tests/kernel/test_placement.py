"""Which installed plugins load and where each runs: the default groups, ``placement`` overrides, the
``load`` allow-list, and plugins loaded by import path (``[[plugins.extra]]``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from treadle.config import ExtraPlugin, PluginSettings
from treadle.plugins import FIRST_PARTY_GROUP, GroupPlan, PluginSpec, plan_groups
from treadle.plugins.placement import FIRST_PARTY_DISTRIBUTIONS

#: Only the first-party plugins, so that other distributions installed in the environment do not matter.
FIRST_PARTY = ["fake", "basic-tools"]


def layout(groups: list[GroupPlan]) -> dict[str, tuple[bool, list[str]]]:
    """Group name -> (inline, plugin names)."""
    return {group.name: (group.inline, [spec.name for spec in group.plugins]) for group in groups}


def test_first_party_plugins_share_one_host_process_by_default() -> None:
    groups = plan_groups(PluginSettings())
    first_party_out_of_process = [
        "basic-tools",
        "code-node",
        "doc-extractor",
        "faiss-store",
        "fake",
        "http-node",
        "json-process",
        "local-embeddings",
        "local-storage",
        "mcp-tools",
        "openapi-tools",
        "pgvector-store",
        "qdrant-store",
        "schedule-trigger",
        "text-tools",
        "webscraper",
    ]
    assert layout(groups)[FIRST_PARTY_GROUP] == (False, first_party_out_of_process)
    # DESIGN.md default placement, and the network model providers (bench/model_stream.py)
    inline = ["agent-nodes", "anthropic", "core-nodes", "knowledge-nodes", "llm-nodes", "openai-compat"]
    assert layout(groups)["inline"] == (True, inline)
    (first_party,) = [group for group in groups if group.name == FIRST_PARTY_GROUP]
    specs = {spec.name: spec for spec in first_party.plugins}
    assert specs["fake"].distribution == "treadle-plugin-fake"
    assert specs["basic-tools"].distribution == "treadle-plugin-basic-tools"
    assert all(spec.first_party and spec.version and not spec.path for spec in specs.values())


def test_every_plugin_of_this_repository_is_first_party() -> None:
    """A plugin added under plugins/ shares the first-party host unless it is listed: one missed
    (the MCP client tools, once) got a host process of its own."""
    root = Path(__file__).resolve().parents[2] / "plugins"
    names = set()
    for pyproject in root.glob("*/*/pyproject.toml"):
        names.add(tomllib.loads(pyproject.read_text())["project"]["name"])
    assert len(names) >= 20
    assert names - FIRST_PARTY_DISTRIBUTIONS == set()
    assert FIRST_PARTY_DISTRIBUTIONS - names == set()


def test_placement_moves_a_plugin_inline() -> None:
    groups = plan_groups(PluginSettings(load=FIRST_PARTY, placement={"fake": "inline"}))
    assert layout(groups) == {FIRST_PARTY_GROUP: (False, ["basic-tools"]), "inline": (True, ["fake"])}


def test_placement_moves_a_plugin_to_a_group_of_its_own() -> None:
    groups = plan_groups(PluginSettings(load=FIRST_PARTY, placement={"basic-tools": "tools"}))
    assert layout(groups) == {FIRST_PARTY_GROUP: (False, ["fake"]), "tools": (False, ["basic-tools"])}


def test_placement_of_a_plugin_that_is_not_installed_changes_nothing() -> None:
    assert layout(plan_groups(PluginSettings(load=FIRST_PARTY, placement={"no-such-plugin": "inline"}))) == {
        FIRST_PARTY_GROUP: (False, ["basic-tools", "fake"])
    }


def test_the_load_allow_list_filters() -> None:
    assert layout(plan_groups(PluginSettings(load=["fake"]))) == {FIRST_PARTY_GROUP: (False, ["fake"])}
    assert layout(plan_groups(PluginSettings(load=["fake", "no-such-plugin"]))) == {
        FIRST_PARTY_GROUP: (False, ["fake"])
    }
    assert plan_groups(PluginSettings(load=[])) == []


def test_plugins_by_import_path_go_to_their_group() -> None:
    settings = PluginSettings(
        load=[],
        extra=[
            ExtraPlugin(path="mine.tools"),
            ExtraPlugin(path="mine.nodes", group="inline"),
            ExtraPlugin(path="mine.moved", group="x"),
        ],
        placement={"mine.moved": "y"},
    )
    groups = plan_groups(settings)
    assert layout(groups) == {
        "local": (False, ["mine.tools"]),
        "inline": (True, ["mine.nodes"]),
        "y": (False, ["mine.moved"]),
    }
    assert groups[1].plugins == (PluginSpec("mine.tools", path="mine.tools"),)


def test_groups_are_ordered_by_name() -> None:
    groups = plan_groups(PluginSettings(load=FIRST_PARTY, placement={"fake": "a-first", "basic-tools": "z-last"}))
    assert [group.name for group in groups] == ["a-first", "z-last"]
