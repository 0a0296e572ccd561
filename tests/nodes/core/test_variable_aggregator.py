"""The Variable Aggregator node (NODE-VAR-AGGREGATOR): the first variable that exists, per group."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_sdk.nodes import NodeConfigError

from .support import MemoryRuntime, prepare

BRANCHES = [["llm_a", "text"], ["llm_b", "text"], ["llm_c", "text"]]


@pytest.mark.parametrize("node_type", ["variable-aggregator", "variable-assigner"])
def test_the_output_is_the_variable_of_the_branch_that_ran(node_type: str) -> None:
    """EXEC-BRANCH-EXCLUSIVE: only one branch ran, its variable is the output. ``variable-assigner``
    is the node's name in older DSL."""
    node = prepare(node_type, {"output_type": "string", "variables": BRANCHES})
    assert node.run(MemoryRuntime({"llm_b.text": "from b"})).outputs == {"output": "from b"}


def test_the_first_listed_wins_when_several_exist() -> None:
    node = prepare("variable-aggregator", {"variables": BRANCHES})
    assert node.run(MemoryRuntime({"llm_c.text": "c", "llm_b.text": "b"})).outputs == {"output": "b"}


@pytest.mark.parametrize("value", [None, 0, "", [], {"k": 1}, False])
def test_a_variable_that_exists_counts_whatever_its_value(value: Any) -> None:
    node = prepare("variable-aggregator", {"variables": BRANCHES})
    assert node.run(MemoryRuntime({"llm_a.text": value, "llm_b.text": "b"})).outputs == {"output": value}


def test_no_variable_existing_leaves_the_output_out() -> None:
    node = prepare("variable-aggregator", {"variables": BRANCHES})
    assert node.run(MemoryRuntime()).outputs == {}


def test_groups_each_give_an_output() -> None:
    """NODE-VAR-AGGREGATOR: Aggregation Groups, ``{group_name: {"output": ...}}``."""
    node = prepare(
        "variable-aggregator",
        {
            "variables": [],
            "advanced_settings": {
                "group_enabled": True,
                "groups": [
                    {
                        "group_name": "Group1",
                        "groupId": "g1",
                        "output_type": "string",
                        "variables": [["a", "text"], ["b", "text"]],
                    },
                    {
                        "group_name": "files",
                        "groupId": "g2",
                        "output_type": "array[file]",
                        "variables": [["a", "files"], ["b", "files"]],
                    },
                    {"group_name": "unused", "groupId": "g3", "variables": [["z", "z"]]},
                ],
            },
        },
    )
    result = node.run(MemoryRuntime({"b.text": "hello", "b.files": [], "a.files": ["f"]}))
    assert result.outputs == {"Group1": {"output": "hello"}, "files": {"output": ["f"]}}


def test_groups_switched_off_use_the_top_level_variables() -> None:
    node = prepare(
        "variable-aggregator",
        {
            "variables": [["a", "x"]],
            "advanced_settings": {"group_enabled": False, "groups": [{"group_name": "G", "variables": [["b", "y"]]}]},
        },
    )
    assert node.run(MemoryRuntime({"a.x": 1, "b.y": 2})).outputs == {"output": 1}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"variables": ["a.text"]}, "variables[0]"),
        (
            {"advanced_settings": {"group_enabled": True, "groups": [{"variables": []}]}},
            "advanced_settings.groups[0].group_name",
        ),
        (
            {
                "advanced_settings": {
                    "group_enabled": True,
                    "groups": [{"group_name": "g", "variables": []}, {"group_name": "g", "variables": []}],
                }
            },
            "advanced_settings.groups[1].group_name",
        ),
        ({"advanced_settings": {"group_enabled": "maybe"}}, "advanced_settings.group_enabled"),
    ],
)
def test_bad_configurations_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        prepare("variable-aggregator", data)
    assert caught.value.path == path
