"""Container nodes (iteration- and loop-like) running their children through run_children:
per-item scopes (VAR-SCOPE), loop variables (VAR-IMMUTABILITY), loop-end, nested iteration in a
loop, child failures (EXEC-LOOP-ERRORS)."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.graph import events as ev

from .nodes_for_tests import chain, edge, node, run_dsl


def _iteration(parallel: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """it over start.items: tag (copies item and index) -> pause (yields) -> read (copies tag)."""
    nodes = [
        node("start", "start", outputs={"items": ["x", "y", "z"]}),
        node(
            "it",
            "iteration",
            iterator_selector=["start", "items"],
            output_selector=["read", "v"],
            parallel=parallel,
            start_node_id="it-start",
        ),
        node("it-start", "iteration-start", iteration_id="it"),
        node("tag", "copy", iteration_id="it", inputs={"item": ["it", "item"], "index": ["it", "index"]}),
        node("pause", "work", iteration_id="it", turns=2),
        node("read", "copy", iteration_id="it", inputs={"v": ["tag", "item"], "i": ["tag", "index"]}),
        node("after", "aggregate", variables=[["read", "v"], ["it", "output"]]),
    ]
    return nodes, [*chain("start", "it", "after"), *chain("it-start", "tag", "pause", "read")]


@pytest.mark.parametrize("parallel", [False, True])
async def test_an_iteration_runs_its_children_per_item_each_in_its_own_scope(parallel: bool) -> None:
    """VAR-SCOPE: ``item`` and ``index`` are readable as ``[iteration id, name]``; what the
    children produce stays with their item (even when items run in parallel) and is not visible
    after the iteration."""
    result, run = await run_dsl(*_iteration(parallel))
    assert result.status == "succeeded", result.error
    outputs = {e.node_id: e.outputs for e in run.of(ev.NodeSucceeded) if e.scope is None}
    assert outputs["it"] == {"output": ["x", "y", "z"]}
    assert outputs["after"] == {"output": ["x", "y", "z"]}  # read.v is not visible out here
    reads = [(e.scope, e.outputs) for e in run.of(ev.NodeSucceeded) if e.node_id == "read"]
    assert sorted(reads) == [
        (("it", 0), {"v": "x", "i": 0}),
        (("it", 1), {"v": "y", "i": 1}),
        (("it", 2), {"v": "z", "i": 2}),
    ]
    assert [e.index for e in run.of(ev.ContainerNext)] == [0, 1, 2]
    assert run.journal.runs["tag"] == 3


async def test_parallel_items_overlap() -> None:
    result, run = await run_dsl(*_iteration(parallel=True))
    assert result.status == "succeeded"
    assert [what for what, _ in run.journal.log if what in ("enter", "exit")] == ["enter"] * 3 + ["exit"] * 3


def _loop(children: list[dict[str, Any]], edges: list[dict[str, Any]], **loop: Any) -> tuple[list[Any], list[Any]]:
    """start -> loop -> end, the End node showing the loop's outputs (its variables and rounds)."""
    names = [item["label"] for item in loop.get("loop_variables", [])]
    nodes = [
        node("start", "start", outputs={"items": [1, 2]}),
        node("loop", "loop", start_node_id="loop-start", **loop),
        node("loop-start", "loop-start", loop_id="loop"),
        *children,
        node("end", "end", outputs=[{"variable": n, "value_selector": ["loop", n]} for n in [*names, "rounds"]]),
    ]
    return nodes, [*chain("start", "loop", "end"), *edges]


async def test_loop_variables_assigned_in_a_round_persist_into_the_next() -> None:
    """VAR-IMMUTABILITY: loop variables are writable inside their loop and keep their values."""
    result, _ = await run_dsl(
        *_loop(
            [
                node("inc", "assign", loop_id="loop", target=["loop", "count"], value=1, operation="add"),
                node(
                    "log",
                    "assign",
                    loop_id="loop",
                    target=["loop", "seen"],
                    source=["loop", "index"],
                    operation="append",
                ),
            ],
            chain("loop-start", "inc", "log"),
            loop_count=3,
            loop_variables=[{"label": "count", "value": 10}, {"label": "seen", "value": []}],
        )
    )
    assert result.status == "succeeded", result.error
    assert result.outputs == {"count": 13, "seen": [0, 1, 2], "rounds": 3}


async def test_loop_end_stops_the_loop_after_its_round() -> None:
    """loop-end ran in a round: ContainerRun.broke is true and the loop node stops."""
    result, run = await run_dsl(
        *_loop(
            [
                node("inc", "assign", loop_id="loop", target=["loop", "count"], value=1, operation="add"),
                node("check", "branch", loop_id="loop", selector=["loop", "count"]),
                node("stop", "loop-end", loop_id="loop"),
            ],
            [*chain("loop-start", "inc", "check"), edge("check", "stop", "3")],
            loop_count=10,
            loop_variables=[{"label": "count", "value": 0}],
        )
    )
    assert result.outputs == {"count": 3, "rounds": 3}
    assert run.journal.runs["stop"] == 1
    assert [e.index for e in run.of(ev.ContainerNext)] == [0, 1, 2]


async def test_an_iteration_nested_in_a_loop() -> None:
    """The acceptance case: an iteration inside a loop sees the loop's index and variables, runs its
    children per item in each round, and assigns the loop's variables from inside."""
    result, run = await run_dsl(
        *_loop(
            [
                node(
                    "it",
                    "iteration",
                    loop_id="loop",
                    iterator_selector=["start", "items"],
                    output_selector=["pair", "item"],
                    start_node_id="it-start",
                ),
                node("it-start", "iteration-start", iteration_id="it"),
                node("pair", "copy", iteration_id="it", inputs={"round": ["loop", "index"], "item": ["it", "item"]}),
                node(
                    "add", "assign", iteration_id="it", target=["loop", "total"], source=["it", "item"], operation="add"
                ),
                node(
                    "keep",
                    "assign",
                    iteration_id="it",
                    target=["loop", "pairs"],
                    source=["pair", "round"],
                    operation="append",
                ),
                node(
                    "collect",
                    "assign",
                    loop_id="loop",
                    target=["loop", "outputs"],
                    source=["it", "output"],
                    operation="append",
                ),
            ],
            [*chain("loop-start", "it", "collect"), *chain("it-start", "pair", "add", "keep")],
            loop_count=2,
            loop_variables=[
                {"label": "total", "value": 0},
                {"label": "pairs", "value": []},
                {"label": "outputs", "value": []},
            ],
        )
    )
    assert result.status == "succeeded", result.error
    assert result.outputs == {"total": 6, "pairs": [0, 0, 1, 1], "outputs": [[1, 2], [1, 2]], "rounds": 2}
    assert run.journal.runs["pair"] == 4
    assert [(e.node_id, e.index) for e in run.of(ev.ContainerNext)] == [
        ("loop", 0),
        ("it", 0),
        ("it", 1),
        ("loop", 1),
        ("it", 0),
        ("it", 1),
    ]


async def test_a_failing_child_stops_the_loop_at_once_and_fails_the_loop_node() -> None:
    """EXEC-LOOP-ERRORS: the child's failure reaches the loop node as a NodeRunError (with the
    child's error type); no further round runs; without a strategy the run fails at the loop."""
    result, run = await run_dsl(
        *_loop(
            [node("boom", "fail", loop_id="loop", message="bad row", error_type="CodeError")],
            chain("loop-start", "boom"),
            loop_count=5,
        )
    )
    assert (result.status, result.failed_node, result.error_type, result.error) == (
        "failed",
        "loop",
        "CodeError",
        "bad row",
    )
    assert run.journal.runs["boom"] == 1
    child_failure = run.of(ev.NodeFailed)[0]
    assert (child_failure.node_id, child_failure.scope) == ("boom", ("loop", 0))


async def test_a_container_node_can_handle_a_child_failure() -> None:
    result, _ = await run_dsl(
        [
            node("start", "start", outputs={"items": [1, 0, 2]}),
            node(
                "it",
                "iteration",
                iterator_selector=["start", "items"],
                output_selector=["ok", "v"],
                error_mode="continue",
            ),
            node("it-start", "iteration-start", iteration_id="it"),
            node("check", "branch", iteration_id="it", selector=["it", "item"]),
            node("ok", "copy", iteration_id="it", inputs={"v": ["it", "item"]}),
            node("boom", "fail", iteration_id="it", message="zero", error_type="ZeroItem"),
            node("end", "end", outputs=[{"variable": "out", "value_selector": ["it", "output"]}]),
        ],
        [
            *chain("start", "it", "end"),
            *chain("it-start", "check"),
            edge("check", "boom", "0"),
            edge("check", "ok", "1"),
            edge("check", "ok", "2"),
        ],
    )
    assert result.status == "succeeded", result.error
    assert result.outputs == {"out": [1, "ZeroItem: zero", 2]}


async def test_a_container_with_an_error_strategy_continues_after_a_child_failure() -> None:
    result, run = await run_dsl(
        *_loop(
            [node("boom", "fail", loop_id="loop")],
            chain("loop-start", "boom"),
            error_strategy="default-value",
            default_value=[{"key": "rounds", "value": -1}],
        )
    )
    assert result.status == "succeeded"
    assert result.outputs == {"rounds": -1}
    [exception] = run.of(ev.NodeException)
    assert (exception.node_id, exception.outputs) == (
        "loop",
        {"rounds": -1, "error_type": "Broken", "error_message": "it broke"},
    )


async def test_a_node_without_children_cannot_run_children() -> None:
    result, _ = await run_dsl(
        [
            node("start", "start", outputs={"items": [1]}),
            node("it", "iteration", iterator_selector=["start", "items"], output_selector=["x", "y"]),
        ],
        chain("start", "it"),
    )
    assert (result.status, result.failed_node) == ("failed", "it")
    assert result.error == "node it has no children to run"
