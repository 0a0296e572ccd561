"""The Loop node (NODE-LOOP, NODE-EXIT-LOOP, EXEC-LOOP-ERRORS): loop variables, break conditions,
the round limit, Loop End, and child failures."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_core_nodes.conditions import ConditionError
from treadle_sdk.nodes import NodeConfigError, NodeRunError

from .support import MemoryRuntime, Round, node_type, prepare, run


def loop(
    *,
    variables: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    logical: str = "and",
    count: Any = 10,
    **extra: Any,
) -> Any:
    return prepare(
        "loop",
        {
            "loop_variables": variables or [],
            "break_conditions": conditions or [],
            "logical_operator": logical,
            "loop_count": count,
            "start_node_id": "l1start",
            "error_handle_mode": "terminated",
            **extra,
        },
        node_id="l1",
    )


def var(label: str, var_type: str, value: Any, value_type: str = "constant") -> dict[str, Any]:
    return {"id": label, "label": label, "var_type": var_type, "value_type": value_type, "value": value}


def cond(selector: list[str], operator: str, value: Any = None) -> dict[str, Any]:
    return {"variable_selector": selector, "comparison_operator": operator, "value": value, "varType": "number"}


def increment(variables: dict[str, Any]) -> None:
    """What an assigner ``num += 1`` inside the loop does: the engine writes into the loop's dict."""
    variables["num"] += 1


async def test_runs_until_the_break_condition_holds() -> None:
    """NODE-LOOP: the termination condition is checked after each round, over the loop variables."""
    rt = MemoryRuntime(node_id="l1", children=increment)
    result = await run(loop(variables=[var("num", "number", 0)], conditions=[cond(["l1", "num"], "≥", "3")]), rt)
    assert result.outputs == {"num": 3, "loop_round": 3}
    assert [r["index"] for r in rt.child_runs] == [0, 1, 2]
    assert [r["num"] for r in rt.child_runs] == [0, 1, 2]


async def test_without_conditions_it_runs_to_the_maximum_count() -> None:
    """NODE-LOOP: with no condition it runs to the max count."""
    rt = MemoryRuntime(node_id="l1", children=increment)
    result = await run(loop(variables=[var("num", "number", 0)], count=5), rt)
    assert result.outputs == {"num": 5, "loop_round": 5}


async def test_the_count_stops_a_loop_whose_condition_never_holds() -> None:
    rt = MemoryRuntime(node_id="l1", children=increment)
    result = await run(
        loop(variables=[var("num", "number", 0)], conditions=[cond(["l1", "num"], "<", "0")], count=4), rt
    )
    assert result.outputs == {"num": 4, "loop_round": 4}


async def test_a_condition_true_from_the_start_runs_no_round() -> None:
    rt = MemoryRuntime(node_id="l1", children=increment)
    result = await run(loop(variables=[var("num", "number", 5)], conditions=[cond(["l1", "num"], "≥", "3")]), rt)
    assert result.outputs == {"num": 5, "loop_round": 0}
    assert rt.child_runs == []


async def test_loop_end_stops_after_its_round() -> None:
    """NODE-EXIT-LOOP: an Exit Loop node ends the loop at once (ContainerRun.broke)."""

    def children(variables: dict[str, Any]) -> Round:
        variables["num"] += 1
        return Round(broke=variables["num"] == 2)

    rt = MemoryRuntime(node_id="l1", children=children)
    result = await run(loop(variables=[var("num", "number", 0)], conditions=[cond(["l1", "num"], ">", "100")]), rt)
    assert result.outputs == {"num": 2, "loop_round": 2}


async def test_a_failing_child_stops_the_loop_with_its_error() -> None:
    """EXEC-LOOP-ERRORS: when a child fails the loop stops at once and returns that error."""
    failure = NodeRunError("the code node failed", error_type="CodeNodeError")

    def children(variables: dict[str, Any]) -> None:
        variables["num"] += 1
        if variables["num"] == 2:
            raise failure

    rt = MemoryRuntime(node_id="l1", children=children)
    with pytest.raises(NodeRunError) as caught:
        await run(loop(variables=[var("num", "number", 0)]), rt)
    assert caught.value is failure
    assert len(rt.child_runs) == 2


async def test_conditions_may_read_what_the_children_produced() -> None:
    """The basic example of nodes/loop.md: a Template inside the loop returns "done" to stop it."""
    rt = MemoryRuntime(node_id="l1", children=lambda v: {"tpl.output": "done" if v["index"] == 3 else "again"})
    result = await run(loop(conditions=[cond(["tpl", "output"], "is", "done")]), rt)
    assert result.outputs == {"loop_round": 4}


async def test_conditions_may_read_conversation_variables_and_references() -> None:
    """knowledge-deep-research-chat.yml: ``conversation.loop_index ≥ {{#conversation.input_depth#}}``,
    with an assigner inside the loop adding 1 to the conversation variable."""
    rt = MemoryRuntime({"conversation.loop_index": 0, "conversation.input_depth": 3}, node_id="l1")

    def children(variables: dict[str, Any]) -> None:
        rt.assign(("conversation", "loop_index"), rt.get(("conversation", "loop_index")) + 1)

    rt.children = children
    node = loop(
        count=100,
        conditions=[
            {
                "comparison_operator": "≥",
                "numberVarType": "variable",
                "value": "{{#conversation.input_depth#}}",
                "varType": "number",
                "variable_selector": ["conversation", "loop_index"],
            }
        ],
    )
    assert (await run(node, rt)).outputs == {"loop_round": 3}


@pytest.mark.parametrize(("logical", "rounds"), [("and", 4), ("or", 2)])
async def test_and_or_between_break_conditions(logical: str, rounds: int) -> None:
    rt = MemoryRuntime(node_id="l1", children=increment)
    node = loop(
        variables=[var("num", "number", 0)],
        logical=logical,
        conditions=[cond(["l1", "num"], "≥", "2"), cond(["l1", "num"], "≥", "4")],
    )
    assert (await run(node, rt)).outputs["loop_round"] == rounds


async def test_conditions_reach_into_object_loop_variables() -> None:
    def children(variables: dict[str, Any]) -> None:
        variables["state"] = {"score": variables["state"]["score"] + 0.4}

    rt = MemoryRuntime(node_id="l1", children=children)
    node = loop(
        variables=[var("state", "object", '{"score": 0}')], conditions=[cond(["l1", "state", "score"], ">", "0.9")]
    )
    result = await run(node, rt)
    assert result.outputs["loop_round"] == 3
    assert result.outputs["state"]["score"] == pytest.approx(1.2)


async def test_an_error_before_the_first_round_counts_as_not_yet() -> None:
    """Before the first round an unreadable condition does not stop the loop; after a round it fails it."""
    rt = MemoryRuntime(node_id="l1", children=lambda v: None)
    node = loop(variables=[var("word", "string", "abc")], conditions=[cond(["l1", "word"], ">", "1")])
    with pytest.raises(ConditionError, match=r"l1\.word"):
        await run(node, rt)
    assert len(rt.child_runs) == 1


# -- loop variables --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("var_type", "value", "initial"),
    [
        ("string", "hello", "hello"),
        ("number", 0, 0),
        ("number", "2.5", 2.5),
        ("boolean", True, True),
        ("boolean", "false", False),
        ("object", {"a": 1}, {"a": 1}),
        ("object", '{"a": 1}', {"a": 1}),
        ("array[string]", '["a", "b"]', ["a", "b"]),
        ("array[number]", [1, 2], [1, 2]),
        ("array[object]", "[]", []),
        ("array[boolean]", "[true]", [True]),
        ("array[string]", "", []),
        ("string", None, None),
    ],
)
async def test_constant_loop_variables(var_type: str, value: Any, initial: Any) -> None:
    """NODE-LOOP: loop variables are typed and have initial values (JSON text for arrays and objects)."""
    rt = MemoryRuntime(node_id="l1", children=lambda v: None)
    result = await run(loop(variables=[var("v", var_type, value)], count=1), rt)
    assert rt.child_runs[0]["v"] == initial
    assert result.outputs["v"] == initial
    assert result.inputs == {"loop_count": 1, "v": initial}


async def test_a_loop_variable_may_start_from_another_variable() -> None:
    rt = MemoryRuntime({"start.verse": "Roses"}, node_id="l1", children=lambda v: None)
    result = await run(loop(variables=[var("verse", "string", ["start", "verse"], "variable")], count=1), rt)
    assert result.outputs["verse"] == "Roses"


async def test_a_missing_starting_variable_is_named() -> None:
    rt = MemoryRuntime(node_id="l1", children=lambda v: None)
    with pytest.raises(NodeRunError, match=r"'verse' starts from start\.verse, which does not exist"):
        await run(loop(variables=[var("verse", "string", ["start", "verse"], "variable")]), rt)


async def test_each_run_starts_from_fresh_constants() -> None:
    """A loop that runs again (say, inside an iteration) does not see the last run's changes."""

    def children(variables: dict[str, Any]) -> None:
        variables["items"].append("x")

    node = loop(variables=[var("items", "array[string]", ["a"])], count=2)
    first = await run(node, MemoryRuntime(node_id="l1", children=children))
    second = await run(node, MemoryRuntime(node_id="l1", children=children))
    assert first.outputs["items"] == second.outputs["items"] == ["a", "x", "x"]


async def test_a_loop_variable_named_index_is_not_overwritten() -> None:
    rt = MemoryRuntime(node_id="l1", children=lambda v: v.update(index=v["index"] + 10))
    result = await run(loop(variables=[var("index", "number", 0)], count=2), rt)
    assert result.outputs == {"index": 20, "loop_round": 2}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"loop_variables": [var("n", "integer", 1)]}, "loop_variables[0].var_type"),
        ({"loop_variables": [var("n", "number", "abc")]}, "loop_variables[0].value"),
        ({"loop_variables": [var("n", "number", True)]}, "loop_variables[0].value"),
        ({"loop_variables": [var("s", "array[string]", "[1, 2]")]}, "loop_variables[0].value"),
        ({"loop_variables": [var("o", "object", "[1]")]}, "loop_variables[0].value"),
        ({"loop_variables": [var("n", "number", 1), var("n", "number", 2)]}, "loop_variables[1].label"),
        ({"loop_variables": [var("", "number", 1)]}, "loop_variables[0].label"),
        ({"loop_variables": [var("n", "number", "start.n", "variable")]}, "loop_variables[0].value"),
        ({"loop_variables": [var("n", "number", 1, "formula")]}, "loop_variables[0].value_type"),
        ({"loop_count": -1}, "loop_count"),
        ({"loop_count": "many"}, "loop_count"),
        ({"break_conditions": [cond(["l1", "n"], "approximately", "1")]}, "break_conditions[0].comparison_operator"),
        ({"logical_operator": "nand"}, "logical_operator"),
    ],
)
def test_bad_configurations_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        prepare("loop", {"loop_count": 3, **data}, node_id="l1")
    assert caught.value.path == path


def test_the_corpus_shape_prepares() -> None:
    """knowledge-deep-research-chat.yml's loop."""
    node = prepare(
        "loop",
        {
            "break_conditions": [
                {
                    "comparison_operator": "≥",
                    "id": "b8",
                    "numberVarType": "variable",
                    "value": "{{#conversation.input_depth#}}",
                    "varType": "number",
                    "variable_selector": ["conversation", "loop_index"],
                }
            ],
            "error_handle_mode": "terminated",
            "height": 490,
            "logical_operator": "and",
            "loop_count": 100,
            "loop_variables": [],
            "start_node_id": "1745465155033start",
            "width": 928,
        },
    )
    assert node.loop.loop_count == 100


def test_loop_is_a_container() -> None:
    assert node_type("loop").schema.container is True
