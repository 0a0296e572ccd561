"""The scheduler: the readiness rule and skip propagation (EXEC-GRAPH, EXEC-BRANCH-EXCLUSIVE),
parallel branches and their bound, the event stream, run limits."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from treadle.graph import RunLimits, VariablePool, WorkflowRun
from treadle.graph import events as ev

from .nodes_for_tests import Harness, chain, compile_dsl, edge, node, run_dsl


def _if_else_with_join(condition: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """start -> if -(true)-> t1 -> t2 -> join; -(false)-> f1 -> f2 -> join; join -> end."""
    nodes = [
        node("start", "start", outputs={"flag": condition}),
        node("if", "branch", selector=["start", "flag"]),
        node("t1", "constant", outputs={"v": "from true"}),
        node("t2", "copy", inputs={"v": ["t1", "v"]}),
        node("f1", "work", turns=1, outputs={"v": "from false"}),
        node("f2", "copy", inputs={"v": ["f1", "v"]}),
        node("join", "aggregate", variables=[["t2", "v"], ["f2", "v"]]),
        node("end", "end", outputs=[{"variable": "result", "value_selector": ["join", "output"]}]),
    ]
    edges = [
        *chain("start", "if"),
        edge("if", "t1", "true"),
        edge("if", "f1", "false"),
        *chain("t1", "t2", "join"),
        *chain("f1", "f2", "join"),
        *chain("join", "end"),
    ]
    return nodes, edges


@pytest.mark.parametrize(
    ("condition", "taken", "skipped"), [("true", ["t1", "t2"], ["f1", "f2"]), ("false", ["f1", "f2"], ["t1", "t2"])]
)
async def test_a_join_after_an_if_else_runs_once_with_the_taken_branch(
    condition: str, taken: list[str], skipped: list[str]
) -> None:
    """EXEC-BRANCH-EXCLUSIVE: the untaken branch is skipped along its whole chain, and the
    aggregator after both branches does not wait for it; it runs once, with the taken value."""
    result, run = await run_dsl(*_if_else_with_join(condition))
    assert result.status == "succeeded", result.error
    assert result.outputs == {"result": f"from {condition}"}
    assert run.started() == ["start", "if", *taken, "join", "end"]
    assert not set(skipped) & set(run.journal.runs)
    assert run.journal.runs["join"] == 1


async def test_skips_propagate_through_chains_and_stop_at_a_taken_edge() -> None:
    """A node all of whose incoming edges were skipped is skipped too; a node with one taken edge
    runs even when its other incoming edges come from skipped nodes (EXEC-BRANCH-EXCLUSIVE)."""
    nodes = [
        node("start", "start"),
        node("if", "branch", handle="a"),
        *(node(n, "constant", outputs={"n": n}) for n in ("a", "b1", "b2", "b3", "b4", "after_b", "both")),
    ]
    edges = [
        *chain("start", "if"),
        edge("if", "a", "a"),
        edge("if", "b1", "b"),
        *chain("b1", "b2", "b3", "b4", "after_b"),
        edge("b2", "both"),
        edge("a", "both"),
    ]
    result, run = await run_dsl(nodes, edges)
    assert result.status == "succeeded"
    assert run.started() == ["start", "if", "a", "both"]


async def test_both_handles_into_one_node_run_it_once() -> None:
    result, run = await run_dsl(
        [node("start", "start"), node("if", "branch", handle="true"), node("x", "constant")],
        [*chain("start", "if"), edge("if", "x", "true"), edge("if", "x", "false")],
    )
    assert result.status == "succeeded"
    assert run.journal.runs["x"] == 1


async def test_a_join_of_parallel_branches_waits_for_every_branch() -> None:
    """EXEC-GRAPH: several outgoing edges start parallel branches; the node where they meet runs
    once, after all of them, and sees every branch's output (VAR-SCOPE)."""
    result, run = await run_dsl(
        [
            node("start", "start"),
            node("quick", "work", turns=0, outputs={"v": 1}),
            node("slow", "work", turns=10, outputs={"v": 2}),
            node("sync", "constant", outputs={"v": 3}),
            node("join", "copy", inputs={"a": ["quick", "v"], "b": ["slow", "v"], "c": ["sync", "v"]}),
        ],
        [*chain("start", "quick", "join"), *chain("start", "slow", "join"), *chain("start", "sync", "join")],
    )
    assert result.status == "succeeded"
    assert run.journal.runs["join"] == 1
    assert run.journal.log.index(("run", "join")) > run.journal.log.index(("exit", "slow"))
    assert run.succeeded()[-1] == "join"
    assert run.of(ev.NodeSucceeded)[-1].outputs == {"a": 1, "b": 2, "c": 3}


def _fan_out(width: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    branches = [f"w{i}" for i in range(width)]
    nodes = [node("start", "start"), *(node(b, "work", turns=3) for b in branches), node("join", "constant")]
    edges = [edge_ for b in branches for edge_ in chain("start", b, "join")]
    return nodes, edges


def _most_at_once(log: list[tuple[str, str]]) -> int:
    inside = most = 0
    for what, _ in log:
        if what == "enter":
            inside += 1
            most = max(most, inside)
        elif what == "exit":
            inside -= 1
    return most


async def test_parallel_branches_run_concurrently() -> None:
    """EXEC-GRAPH: three async branches are all in progress before any of them finishes."""
    result, run = await run_dsl(*_fan_out(3))
    assert result.status == "succeeded"
    moves = [what for what, _ in run.journal.log if what in ("enter", "exit")]
    assert moves == ["enter"] * 3 + ["exit"] * 3


@pytest.mark.parametrize("bound", [1, 2])
async def test_max_concurrency_bounds_the_nodes_in_flight(bound: int) -> None:
    result, run = await run_dsl(*_fan_out(4), limits=RunLimits(max_concurrency=bound))
    assert result.status == "succeeded"
    assert _most_at_once(run.journal.log) == bound
    assert sorted(run.journal.of("exit")) == ["w0", "w1", "w2", "w3"]


async def test_a_container_still_runs_its_children_when_it_holds_the_last_slot() -> None:
    """Regression (scheduler spin): with max_concurrency=1 the loop node holds the only slot; its
    async child used to wait for a slot forever, spinning the event loop without awaiting."""
    result, run = await run_dsl(
        [
            node("start", "start"),
            node("loop", "loop", loop_count=2),
            node("loop-start", "loop-start", loop_id="loop"),
            node("child", "work", loop_id="loop", turns=1),
        ],
        [*chain("start", "loop"), *chain("loop-start", "child")],
        limits=RunLimits(max_concurrency=1),
    )
    assert result.status == "succeeded", result.error
    assert run.journal.runs["child"] == 2


async def test_independent_start_nodes_all_run() -> None:
    """EXEC-GRAPH: several flows, each with its own trigger, share one canvas."""
    result, run = await run_dsl(
        [node("t1", "trigger-webhook"), node("t2", "trigger-schedule"), node("a", "constant"), node("b", "constant")],
        [*chain("t1", "a"), *chain("t2", "b")],
    )
    assert result.status == "succeeded"
    assert sorted(run.journal.runs) == ["a", "b", "t1", "t2"]


async def test_events_of_a_simple_run() -> None:
    """The typed event stream: run started, a started/succeeded pair per node in order, run
    succeeded with the outputs and the step count."""
    result, run = await run_dsl(
        [
            node("start", "start", outputs={"x": 1}),
            node("double", "copy", inputs={"y": ["start", "x"]}),
            node("end", "end", outputs=[{"variable": "y", "value_selector": ["double", "y"]}]),
        ],
        chain("start", "double", "end"),
    )
    shape = [(type(e).__name__, getattr(e, "node_id", None)) for e in run.events]
    assert shape == [
        ("RunStarted", None),
        ("NodeStarted", "start"),
        ("NodeSucceeded", "start"),
        ("NodeStarted", "double"),
        ("NodeSucceeded", "double"),
        ("NodeStarted", "end"),
        ("NodeSucceeded", "end"),
        ("RunSucceeded", None),
    ]
    assert all(e.run_id == "run-1" for e in run.events)
    assert [e.index for e in run.of(ev.NodeStarted)] == [1, 2, 3]
    assert [(e.node_type, e.title) for e in run.of(ev.NodeStarted)][1] == ("copy", "DOUBLE")
    assert run.of(ev.NodeSucceeded)[1].outputs == {"y": 1}
    finished = run.of(ev.RunSucceeded)[0]
    assert (finished.outputs, finished.steps) == ({"y": 1}, 3) == (result.outputs, result.steps)


async def test_a_run_without_event_sink_runs_the_same() -> None:
    compiled, _ = compile_dsl(
        [
            node("start", "start", outputs={"x": 1}),
            node("end", "end", outputs=[{"variable": "x", "value_selector": ["start", "x"]}]),
        ],
        chain("start", "end"),
    )
    result = await WorkflowRun(compiled, VariablePool.for_run()).run()
    assert (result.status, result.outputs) == ("succeeded", {"x": 1})


async def test_a_node_returning_something_other_than_a_node_result_fails() -> None:
    harness = Harness([node("start", "start"), node("x", "constant")], chain("start", "x"))
    harness.compiled.prepared["x"].work = lambda rt: {"not": "a result"}  # type: ignore[attr-defined]
    result = await harness.go()
    assert (result.status, result.error_type, result.failed_node) == ("failed", "MalformedNodeResult", "x")


# -- run limits -----------------------------------------------------------------------------------


async def test_max_steps_fails_the_run_with_step_limit_exceeded() -> None:
    nodes = [node("start", "start"), *(node(f"n{i}", "constant") for i in range(5))]
    result, run = await run_dsl(nodes, chain("start", *(f"n{i}" for i in range(5))), limits=RunLimits(max_steps=3))
    assert (result.status, result.error_type, result.steps) == ("failed", "StepLimitExceeded", 3)
    assert "3 steps" in result.error
    assert run.started() == ["start", "n0", "n1"]
    assert run.of(ev.RunFailed)[0].error_type == "StepLimitExceeded"


async def test_steps_inside_containers_count_towards_max_steps() -> None:
    result, _ = await run_dsl(
        [
            node("start", "start", outputs={"items": list(range(10))}),
            node("it", "iteration", iterator_selector=["start", "items"], output_selector=["it", "item"]),
            node("it-start", "iteration-start", iteration_id="it"),
        ],
        chain("start", "it"),
        limits=RunLimits(max_steps=6),
    )
    assert (result.status, result.error_type) == ("failed", "StepLimitExceeded")


async def test_max_seconds_fails_the_run_and_cancels_the_hanging_node() -> None:
    result, run = await run_dsl(
        [node("start", "start"), node("hang", "work", hang=True)],
        chain("start", "hang"),
        limits=RunLimits(max_seconds=0.2),
    )
    assert (result.status, result.error_type) == ("failed", "TimeLimitExceeded")
    assert "0.2 s" in result.error
    assert run.journal.of("cancelled") == ["hang"]


async def test_max_seconds_reaches_nodes_inside_containers() -> None:
    result, run = await run_dsl(
        [
            node("start", "start"),
            node("loop", "loop", loop_count=3),
            node("loop-start", "loop-start", loop_id="loop"),
            node("hang", "work", loop_id="loop", hang=True),
        ],
        [*chain("start", "loop"), *chain("loop-start", "hang")],
        limits=RunLimits(max_seconds=0.2),
    )
    assert (result.status, result.error_type) == ("failed", "TimeLimitExceeded")
    await run.journal.reached("cancelled", "hang")


@pytest.mark.parametrize(("depth", "status"), [(5, "succeeded"), (6, "failed")])
async def test_call_depth_beyond_max_depth_fails(depth: int, status: str) -> None:
    result, run = await run_dsl([node("start", "start")], [], depth=depth, limits=RunLimits(max_depth=5))
    assert result.status == status
    if status == "failed":
        assert result.error_type == "DepthLimitExceeded"
        assert not run.journal.runs
        assert isinstance(run.events[-1], ev.RunFailed)


async def test_a_finished_run_goes_by_reference_counting_alone() -> None:
    """A run leaves no reference cycle behind (its stream coordinator held a method of the run), so
    a busy server frees each run as it ends instead of piling runs up for a full collection of the
    cycle collector, which paused the server for hundreds of milliseconds (bench/api.py)."""
    compiled, _factory = compile_dsl(
        [
            node("start", "start"),
            node("A", "stream", chunks=["a1", "a2"]),
            node("answer", "answer", answer="{{#A.text#}}"),
        ],
        chain("start", "A", "answer"),
    )
    events: list[ev.Event] = []
    gc.collect()
    gc.disable()
    try:
        run = WorkflowRun(compiled, VariablePool.for_run(), on_event=events.append)
        result = await run.run()
        assert result.status == "succeeded" and result.answer == "a1a2"
        gone = weakref.ref(run)
        del run, result
        assert gone() is None
    finally:
        gc.enable()



async def test_a_run_object_runs_once() -> None:
    compiled, _factory = compile_dsl([node("start", "start")], [])
    run = WorkflowRun(compiled, VariablePool.for_run(), run_id="once")
    assert (await run.run()).status == "succeeded"
    with pytest.raises(RuntimeError, match="run 'once' has run already"):
        await run.run()
