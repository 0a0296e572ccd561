"""The variable pool: selectors with nested paths, the sys/env/conversation namespaces, what nodes
may write (VAR-REF-SYNTAX, VAR-SYS-*, VAR-ENV, VAR-CONVERSATION, VAR-IMMUTABILITY, VAR-SCOPE)."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.graph import VariablePool
from treadle_sdk.nodes import NodeRunError, VariableNotFound

from .nodes_for_tests import chain, node, run_dsl


def _pool() -> VariablePool:
    pool = VariablePool.for_run(
        system={"query": "hi", "user_id": "u-1"},
        environment={"API_KEY": "k"},
        conversation={"memory": []},
    )
    pool.set_outputs("http", {"body": {"items": [{"id": 7}, {"id": 8}], "ok": True}, "status": 200})
    return pool


@pytest.mark.parametrize(
    ("selector", "value"),
    [
        (["http", "status"], 200),
        (["http", "body", "ok"], True),
        (["http", "body", "items", "1", "id"], 8),
        (["http", "body", "items", "-1", "id"], 8),
        (["http", "body", "items", "0"], {"id": 7}),
        (["sys", "query"], "hi"),
        (["env", "API_KEY"], "k"),
        (["conversation", "memory"], []),
    ],
)
def test_selectors_read_namespaces_and_nested_paths(selector: list[str], value: Any) -> None:
    """VAR-REF-SYNTAX: ``[node, var, *path]`` walks objects by key and arrays by index."""
    assert _pool().get(selector) == value


@pytest.mark.parametrize(
    "selector",
    [
        ["http"],
        ["http", "missing"],
        ["http", "body", "items", "2"],
        ["http", "body", "items", "id"],
        ["http", "status", "x"],
        ["nobody", "x"],
        ["sys", "files"],
    ],
)
def test_missing_variables_raise_variable_not_found(selector: list[str]) -> None:
    pool = _pool()
    with pytest.raises(VariableNotFound) as caught:
        pool.get(selector)
    assert caught.value.selector == tuple(selector)
    assert caught.value.error_type == "VariableNotFound"
    assert not pool.has(selector)


def test_conversation_variables_are_assigned_in_the_callers_dict() -> None:
    """VAR-CONVERSATION: the host passes the conversation's dict and sees what nodes assigned."""
    conversation: dict[str, Any] = {"memory": []}
    pool = VariablePool.for_run(conversation=conversation)
    pool.child().assign(["conversation", "memory"], ["a"])
    assert conversation == {"memory": ["a"]}


@pytest.mark.parametrize("selector", [["http", "status"], ["sys", "query"], ["env", "API_KEY"], ["start", "name"]])
def test_only_conversation_and_loop_variables_are_writable(selector: list[str]) -> None:
    """VAR-IMMUTABILITY: node outputs, inputs, system and environment variables are constants."""
    pool = _pool()
    with pytest.raises(NodeRunError) as caught:
        pool.assign(selector, 1)
    assert caught.value.error_type == "VariableNotWritable"


def test_nested_paths_cannot_be_assigned() -> None:
    with pytest.raises(NodeRunError, match="only whole variables"):
        _pool().assign(["conversation", "memory", "0"], "x")


def test_a_child_layer_sees_its_parent_and_keeps_its_own_outputs() -> None:
    """VAR-SCOPE: a container run reads everything above it; its nodes' outputs stay in its layer."""
    parent = _pool()
    first, second = parent.child(), parent.child()
    first.bind_scope("it", {"item": 1, "index": 0})
    first.set_outputs("inner", {"x": "first"})
    second.set_outputs("inner", {"x": "second"})
    assert first.get(["http", "status"]) == 200
    assert first.get(["it", "item"]) == 1
    assert (first.get(["inner", "x"]), second.get(["inner", "x"])) == ("first", "second")
    assert not parent.has(["inner", "x"])
    assert not second.has(["it", "item"])


def test_loop_variables_are_writable_in_the_loop_layer_only() -> None:
    parent = _pool()
    loop = parent.child()
    values = {"count": 0}
    loop.bind_scope("loop", values, writable=True)
    loop.child().assign(["loop", "count"], 3)
    assert values == {"count": 3}
    with pytest.raises(NodeRunError):
        parent.assign(["loop", "count"], 4)


def test_snapshot_and_restore_keep_the_conversation_dict() -> None:
    conversation: dict[str, Any] = {"memory": []}
    pool = VariablePool.for_run(system={"query": "q"}, conversation=conversation)
    pool.set_outputs("a", {"x": 1})
    saved = pool.snapshot()
    pool.assign(["conversation", "memory"], ["changed"])
    fresh_conversation: dict[str, Any] = {}
    fresh = VariablePool.for_run(conversation=fresh_conversation)
    fresh.restore(saved)
    assert fresh.get(["a", "x"]) == 1
    assert fresh.get(["sys", "query"]) == "q"
    assert fresh_conversation == {"memory": []}


async def test_nodes_read_namespaces_and_assign_conversation_variables_during_a_run() -> None:
    """VAR-SYS-CHATFLOW, VAR-ENV, VAR-CONVERSATION through the runtime a node gets."""
    conversation: dict[str, Any] = {"memory": ["old"], "turns": 1}
    pool = VariablePool.for_run(system={"query": "hello"}, environment={"GREETING": "hey"}, conversation=conversation)
    result, _ = await run_dsl(
        [
            node("start", "start", outputs={"profile": {"tags": ["x", "y"]}}),
            node(
                "copy",
                "copy",
                inputs={
                    "query": ["sys", "query"],
                    "greeting": ["env", "GREETING"],
                    "tag": ["start", "profile", "tags", "1"],
                },
            ),
            node("remember", "assign", target=["conversation", "memory"], source=["sys", "query"], operation="append"),
            node("count", "assign", target=["conversation", "turns"], value=1, operation="add"),
            node(
                "end",
                "end",
                outputs=[
                    {"variable": "copied", "value_selector": ["copy", "tag"]},
                    {"variable": "memory", "value_selector": ["conversation", "memory"]},
                    {"variable": "greeting", "value_selector": ["copy", "greeting"]},
                ],
            ),
        ],
        chain("start", "copy", "remember", "count", "end"),
        pool=pool,
    )
    assert result.status == "succeeded", result.error
    assert result.outputs == {"copied": "y", "memory": ["old", "hello"], "greeting": "hey"}
    assert conversation == {"memory": ["old", "hello"], "turns": 2}


async def test_assigning_a_node_output_fails_the_node_with_variable_not_writable() -> None:
    """VAR-IMMUTABILITY: an assigner aimed at a node's output fails with VariableNotWritable."""
    result, _ = await run_dsl(
        [node("start", "start", outputs={"x": 1}), node("assign", "assign", target=["start", "x"], value=2)],
        chain("start", "assign"),
    )
    assert (result.status, result.error_type, result.failed_node) == ("failed", "VariableNotWritable", "assign")
    assert "start.x cannot be assigned" in result.error


async def test_templates_render_missing_variables_as_nothing() -> None:
    """VAR-REF-SYNTAX: a reference to a variable that does not exist renders as empty text."""
    result, _ = await run_dsl(
        [
            node("start", "start", outputs={"name": "Ada", "n": 3, "obj": {"k": [1]}}),
            node(
                "answer",
                "answer",
                answer="Hi {{#start.name#}}{{#ghost.x#}}! {{#start.n#}} {{#start.obj#}}{{#sys.nope#}}.",
            ),
        ],
        chain("start", "answer"),
    )
    assert result.answer == 'Hi Ada! 3 {"k": [1]}.'
