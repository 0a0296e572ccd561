"""The End (Output) node (NODE-OUTPUT): named outputs from selectors."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_sdk.nodes import NodeConfigError

from .support import MemoryRuntime, prepare


def test_outputs_are_the_selected_values_in_order() -> None:
    """NODE-OUTPUT: each output variable's name is its key; values of any type pass through."""
    node = prepare(
        "end",
        {
            "outputs": [
                {"variable": "course_name", "value_selector": ["start", "course_name"]},
                {"variable": "course", "value_selector": ["tpl", "output"]},
                {"variable": "first", "value_selector": ["code", "items", "0"]},
            ]
        },
    )
    rt = MemoryRuntime({"start.course_name": "Dify 101", "tpl.output": {"chapters": 3}, "code.items": [7, 8]})
    result = node.run(rt)
    assert result.outputs == {"course_name": "Dify 101", "course": {"chapters": 3}, "first": 7}
    assert list(result.outputs) == ["course_name", "course", "first"]
    assert rt.emitted == []


def test_an_output_whose_variable_does_not_exist_is_null() -> None:
    node = prepare(
        "end",
        {
            "outputs": [
                {"variable": "x", "value_selector": ["skipped", "text"]},
                {"variable": "y", "value_selector": []},
            ]
        },
    )
    assert node.run(MemoryRuntime()).outputs == {"x": None, "y": None}


def test_each_run_gets_its_own_outputs() -> None:
    node = prepare("end", {"outputs": [{"variable": "x", "value_selector": ["a", "b"]}]})
    first = node.run(MemoryRuntime({"a.b": 1})).outputs
    second = node.run(MemoryRuntime({"a.b": 2})).outputs
    assert (first, second) == ({"x": 1}, {"x": 2})


@pytest.mark.parametrize(
    ("outputs", "path"),
    [
        ([{"variable": "", "value_selector": ["a", "b"]}], "outputs[0].variable"),
        (
            [{"variable": "x", "value_selector": ["a", "b"]}, {"variable": "x", "value_selector": ["a", "c"]}],
            "outputs[1].variable",
        ),
        ([{"variable": "x", "value_selector": "a.b"}], "outputs[0].value_selector"),
        ({"x": "y"}, "outputs"),
    ],
)
def test_bad_outputs_name_the_field(outputs: Any, path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        prepare("end", {"outputs": outputs})
    assert caught.value.path == path
