"""The Variable Assigner node (NODE-VAR-ASSIGNER, VAR-IMMUTABILITY): every operation on every type,
both input types, conversation and loop variables, version 1 and version 2."""

from __future__ import annotations

import re
from typing import Any

import pytest
from treadle_core_nodes.assigner import AssignmentError
from treadle_sdk.nodes import NodeConfigError, NodeRunError

from .support import MemoryRuntime, document, image, prepare

TARGET = ["conversation", "v"]


def item(operation: str, value: Any = None, input_type: str = "constant", target: list[str] = TARGET) -> dict[str, Any]:
    return {
        "variable_selector": target,
        "input_type": input_type,
        "operation": operation,
        "value": value,
        "write_mode": "over-write",
    }


def assign(current: Any, operation: str, value: Any = None, *, by_variable: bool = False) -> Any:
    """The conversation variable's value after one item; ``by_variable`` passes ``value`` through
    another variable (input_type variable)."""
    variables = {"conversation.v": current, "upstream.value": value}
    if by_variable:
        data = item(operation, ["upstream", "value"], "variable")
    else:
        data = item(operation, value)
    rt = MemoryRuntime(variables)
    result = prepare("assigner", {"version": "2", "items": [data]}).run(rt)
    assert result.outputs == {}
    assert rt.assigned == [(("conversation", "v"), rt.variables[("conversation", "v")])]
    return rt.variables[("conversation", "v")]


OPERATIONS = [
    # string
    ("a", "over-write", "b", "b"),
    ("a", "clear", None, ""),
    ("a", "set", "x", "x"),
    # number
    (5, "over-write", 7, 7),
    (5, "over-write", "7", 7),
    (5, "clear", None, 0),
    (5, "set", 3, 3),
    (5, "+=", 2, 7),
    (5, "+=", "2", 7),
    (5, "-=", 2, 3),
    (5, "*=", 3, 15),
    (5, "/=", 2, 2.5),
    (1.5, "+=", 1, 2.5),
    # boolean
    (True, "over-write", False, False),
    (True, "clear", None, False),
    (False, "set", True, True),
    # object
    ({"a": 1}, "over-write", {"b": 2}, {"b": 2}),
    ({"a": 1}, "clear", None, {}),
    ({"a": 1}, "set", {"c": 3}, {"c": 3}),
    # array[string]
    (["a"], "over-write", ["b", "c"], ["b", "c"]),
    (["a"], "clear", None, []),
    (["a"], "append", "b", ["a", "b"]),
    (["a"], "extend", ["b", "c"], ["a", "b", "c"]),
    (["a", "b"], "remove-first", None, ["b"]),
    (["a", "b"], "remove-last", None, ["a"]),
    ([], "remove-first", None, []),
    ([], "remove-last", None, []),
    ([], "append", 1, [1]),  # an empty array takes any element
    # array[number], array[object], array[boolean]
    ([1, 2], "append", 3.5, [1, 2, 3.5]),
    ([1], "extend", [2, 3], [1, 2, 3]),
    ([{"q": 1}], "append", {"q": 2}, [{"q": 1}, {"q": 2}]),
    ([True], "append", False, [True, False]),
    ([True], "remove-last", None, []),
    ([None, "a"], "append", "b", [None, "a", "b"]),  # nulls say nothing about the elements' type
    (["a"], "extend", [None], ["a", None]),
    # file and array[file]
    (image("a.png"), "over-write", document(), document()),
    (image("a.png"), "clear", None, None),
    ([image("a.png")], "append", document(), [image("a.png"), document()]),
    # a variable whose value is still null takes any first value
    (None, "over-write", "first", "first"),
    (None, "set", 1, 1),
    (None, "append", "x", ["x"]),
    (None, "extend", ["x"], ["x"]),
    (None, "clear", None, None),
]


@pytest.mark.parametrize(("current", "operation", "value", "after"), OPERATIONS)
def test_operations_with_a_constant(current: Any, operation: str, value: Any, after: Any) -> None:
    """NODE-VAR-ASSIGNER: over-write, clear, set, +=, -=, *=, /=, append, extend, remove first/last."""
    assert assign(current, operation, value) == after


@pytest.mark.parametrize(
    ("current", "operation", "value", "after"),
    [case for case in OPERATIONS if case[1] not in {"clear", "remove-first", "remove-last"}],
)
def test_operations_with_a_variable(current: Any, operation: str, value: Any, after: Any) -> None:
    """input_type ``variable``: the value comes from another node's output."""
    assert assign(current, operation, value, by_variable=True) == after


def test_the_previous_array_is_not_changed_in_place() -> None:
    before = ["a"]
    assert assign(before, "append", "b") == ["a", "b"]
    assert before == ["a"]


@pytest.mark.parametrize(
    ("current", "operation", "value", "message"),
    [
        (["a"], "set", ["b"], "'set' cannot be applied to an array variable"),
        ("a", "+=", 1, "'+=' cannot be applied to a string variable"),
        (True, "*=", 2, "'*=' cannot be applied to a boolean variable"),
        ("a", "append", "b", "'append' cannot be applied to a string variable"),
        ({"a": 1}, "remove-first", None, "'remove-first' cannot be applied to an object variable"),
        (image(), "set", image(), "'set' cannot be applied to a file variable"),
        (5, "/=", 0, "cannot divide by zero"),
        (5, "+=", "two", "expected a number, not a string 'two'"),
        ("a", "over-write", 5, "the variable holds a string, not a number 5"),
        (5, "over-write", "five", "expected a number"),
        (True, "set", "true", "holds a boolean, not a string"),
        ({"a": 1}, "over-write", [1], "holds an object, not an array"),
        (["a"], "over-write", [1], "holds string elements, not a number 1"),
        (["a"], "append", 1, "holds string elements, not a number"),
        ([1], "extend", "2", "'extend' needs an array, not a string"),
        ([1], "extend", [2, "3"], "holds number elements, not a string"),
        (image(), "over-write", {"not": "a file"}, "holds a file, not an object"),
        ("a", "over-write", None, "no value to write"),
    ],
)
def test_operations_that_do_not_fit_the_type_fail_clearly(
    current: Any, operation: str, value: Any, message: str
) -> None:
    """STYLE 5: the error names the variable and what is wrong."""
    with pytest.raises(AssignmentError, match=re.escape(message)) as caught:
        assign(current, operation, value)
    assert "conversation.v" in str(caught.value)
    assert caught.value.error_type == "AssignmentError"


def test_items_run_in_order_and_see_earlier_writes() -> None:
    """The corpus pattern: reset a counter then add to it; read a written variable in the same node."""
    node = prepare(
        "assigner",
        {
            "version": "2",
            "items": [
                item("set", 0, target=["conversation", "n"]),
                item("+=", 1, target=["conversation", "n"]),
                item("+=", 1, target=["conversation", "n"]),
                item("over-write", ["conversation", "n"], "variable", target=["conversation", "copy"]),
            ],
        },
    )
    rt = MemoryRuntime({"conversation.n": 10, "conversation.copy": 0})
    result = node.run(rt)
    assert rt.variables[("conversation", "n")] == 2
    assert rt.variables[("conversation", "copy")] == 2
    assert [value for _, value in rt.assigned] == [0, 1, 2, 2]
    assert result.process_data == {
        "updated_variables": [
            {"selector": ["conversation", "n"], "operation": "set", "value": 0},
            {"selector": ["conversation", "n"], "operation": "+=", "value": 1},
            {"selector": ["conversation", "n"], "operation": "+=", "value": 2},
            {"selector": ["conversation", "copy"], "operation": "over-write", "value": 2},
        ]
    }


def test_loop_variables_are_written_like_conversation_variables() -> None:
    """VAR-IMMUTABILITY: inside a loop, the loop's variables are writable."""
    node = prepare("assigner", {"version": "2", "items": [item("+=", 1, target=["loop1", "num"])]})
    rt = MemoryRuntime({"loop1.num": 0}, writable=("conversation", "loop1"))
    node.run(rt)
    assert rt.assigned == [(("loop1", "num"), 1)]


def test_a_variable_the_runtime_will_not_write_fails() -> None:
    """VAR-IMMUTABILITY: node outputs and inputs are read-only; the runtime refuses the write."""
    node = prepare("assigner", {"version": "2", "items": [item("set", "x", target=["start", "name"])]})
    with pytest.raises(NodeRunError, match="cannot be assigned"):
        node.run(MemoryRuntime({"start.name": "a"}))


def test_missing_variables_are_named() -> None:
    node = prepare("assigner", {"version": "2", "items": [item("set", "x", target=["conversation", "nope"])]})
    with pytest.raises(AssignmentError, match=r"the variable conversation\.nope does not exist"):
        node.run(MemoryRuntime())
    node = prepare("assigner", {"version": "2", "items": [item("over-write", ["llm", "text"], "variable")]})
    with pytest.raises(AssignmentError, match=r"the value for conversation\.v, llm\.text does not exist"):
        node.run(MemoryRuntime({"conversation.v": "a"}))


def test_no_items_does_nothing() -> None:
    rt = MemoryRuntime()
    assert prepare("assigner", {"version": "2", "items": []}).run(rt).outputs == {}
    assert rt.assigned == []


@pytest.mark.parametrize(
    ("write_mode", "current", "after"),
    [("over-write", "old", "new"), ("append", ["old"], ["old", "new"]), ("clear", ["old"], [])],
)
def test_version_1(write_mode: str, current: Any, after: Any) -> None:
    """Assigner v1: assigned_variable_selector, input_variable_selector, write_mode."""
    node = prepare(
        "assigner",
        {
            "assigned_variable_selector": ["conversation", "mem"],
            "input_variable_selector": ["llm", "text"],
            "write_mode": write_mode,
        },
    )
    rt = MemoryRuntime({"conversation.mem": current, "llm.text": "new"})
    node.run(rt)
    assert rt.variables[("conversation", "mem")] == after


def test_input_type_defaults_from_the_value() -> None:
    node = prepare(
        "assigner",
        {
            "version": "2",
            "items": [
                {"variable_selector": TARGET, "operation": "over-write", "value": ["llm", "text"]},
                {"variable_selector": ["conversation", "w"], "operation": "set", "value": "const"},
            ],
        },
    )
    rt = MemoryRuntime({"conversation.v": "", "conversation.w": "", "llm.text": "from llm"})
    node.run(rt)
    assert (rt.variables[("conversation", "v")], rt.variables[("conversation", "w")]) == ("from llm", "const")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"items": [item("multiply", 2)]}, "items[0].operation"),
        ({"items": [item("set", 1, input_type="formula")]}, "items[0].input_type"),
        ({"items": [item("over-write", "llm.text", "variable")]}, "items[0].value"),
        ({"items": [{"operation": "clear"}]}, "items[0].variable_selector"),
        ({"items": "all"}, "items"),
        ({"assigned_variable_selector": ["conversation", "a"], "write_mode": "append"}, "input_variable_selector"),
        ({"assigned_variable_selector": ["conversation", "a"], "write_mode": "replace"}, "write_mode"),
    ],
)
def test_bad_configurations_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        prepare("assigner", {"version": "2", **data})
    assert caught.value.path == path
