"""What each node reads (``PreparedNode.selectors``): complete enough that a node run out of process,
given only those variables, decides as it does inline."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_sdk.nodes import VariableNotFound, WireRuntime

from .support import MemoryRuntime, image, prepare

CASES = [
    (
        "if-else",
        {
            "cases": [
                {
                    "case_id": "png",
                    "logical_operator": "and",
                    "conditions": [
                        {"variable_selector": ["start", "f", "extension"], "comparison_operator": "is", "value": "png"},
                        {"variable_selector": ["start", "n"], "comparison_operator": "≥", "value": "{{#start.min#}}"},
                        {
                            "variable_selector": ["sys", "files"],
                            "comparison_operator": "contains",
                            "value": "",
                            "sub_variable_condition": {
                                "conditions": [{"key": "name", "comparison_operator": "contains", "value": "cat"}]
                            },
                        },
                    ],
                }
            ]
        },
        {"start.f": image("cat.png", extension="png"), "start.n": 3, "start.min": 2, "sys.files": [image()]},
    ),
    (
        "assigner",
        {
            "version": "2",
            "items": [
                {
                    "variable_selector": ["conversation", "n"],
                    "input_type": "variable",
                    "operation": "+=",
                    "value": ["llm", "n"],
                },
                {"variable_selector": ["conversation", "n"], "input_type": "constant", "operation": "*=", "value": 10},
                {
                    "variable_selector": ["conversation", "log"],
                    "input_type": "variable",
                    "operation": "append",
                    "value": ["sys", "query"],
                },
            ],
        },
        {"conversation.n": 1, "llm.n": 2, "conversation.log": [], "sys.query": "hi"},
    ),
    (
        "list-operator",
        {
            "variable": ["start", "list"],
            "filter_by": {
                "enabled": True,
                "conditions": [{"key": "", "comparison_operator": ">", "value": "{{#start.min#}}"}],
            },
            "extract_by": {"enabled": True, "serial": "{{#start.pick#}}"},
        },
        {"start.list": [1, 5, 9], "start.min": 2, "start.pick": 2},
    ),
    (
        "variable-aggregator",
        {
            "advanced_settings": {
                "group_enabled": True,
                "groups": [{"group_name": "g", "variables": [["a", "x"], ["b", "x"]]}],
            }
        },
        {"b.x": "bee"},
    ),
    ("variable-assigner", {"variables": [["a", "x"], ["b", "x"]]}, {"b.x": "bee"}),
    ("end", {"outputs": [{"variable": "o", "value_selector": ["llm", "obj", "k"]}]}, {"llm.obj": {"k": 1}}),
    ("answer", {"answer": "{{#llm.text#}} / {{#sys.query#}}"}, {"llm.text": "a", "sys.query": "q"}),
    (
        "template-transform",
        {
            "template": "{{ a }}{{ b }}",
            "variables": [
                {"variable": "a", "value_selector": ["x", "a"]},
                {"variable": "b", "value_selector": ["x", "b"]},
            ],
        },
        {"x.a": 1, "x.b": 2},
    ),
    ("start", {"variables": [{"variable": "q", "type": "text-input"}]}, {"node.q": "hello"}),
]


@pytest.mark.parametrize(("name", "data", "variables"), CASES, ids=[case[0] for case in CASES])
def test_a_node_given_only_its_selectors_runs_as_inline(
    name: str, data: dict[str, Any], variables: dict[str, Any]
) -> None:
    node = prepare(name, data)
    inline_rt = MemoryRuntime(variables, writable=("conversation",))
    inline = node.run(inline_rt)
    sent = {}
    for selector in node.selectors():
        try:
            sent[selector] = MemoryRuntime(variables).get(selector)
        except VariableNotFound:
            continue
    wire_rt = WireRuntime("node", sent)
    wire = node.run(wire_rt)
    assert (wire.outputs, wire.handle) == (inline.outputs, inline.handle)
    assert wire_rt.assignments == inline_rt.assigned
    assert wire_rt.chunks == inline_rt.emitted


def test_iteration_reads_its_array() -> None:
    node = prepare("iteration", {"iterator_selector": ["code", "items"], "output_selector": ["llm", "text"]})
    assert node.selectors() == [("code", "items")]


def test_loop_reads_starting_values_and_what_break_conditions_read_outside_it() -> None:
    node = prepare(
        "loop",
        {
            "loop_variables": [
                {"label": "a", "var_type": "number", "value_type": "variable", "value": ["start", "a"]},
                {"label": "b", "var_type": "number", "value_type": "constant", "value": 1},
            ],
            "break_conditions": [
                {"variable_selector": ["l1", "a"], "comparison_operator": ">", "value": "{{#conversation.max#}}"},
                {"variable_selector": ["tpl", "output"], "comparison_operator": "is", "value": "done"},
            ],
            "logical_operator": "or",
            "loop_count": 3,
        },
        node_id="l1",
    )
    assert node.selectors() == [("start", "a"), ("conversation", "max"), ("tpl", "output")]
