"""What happens when a node fails: error strategies (EXEC-ERROR-STRATEGY), retries (EXEC-RETRY)
and per-node timeouts."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.graph import events as ev

from .nodes_for_tests import Harness, chain, edge, node, run_dsl


def _end(*names: tuple[str, list[str]]) -> dict[str, Any]:
    return node("end", "end", outputs=[{"variable": name, "value_selector": selector} for name, selector in names])


# -- strategies -----------------------------------------------------------------------------------


async def test_strategy_none_fails_the_run_with_the_nodes_error() -> None:
    """EXEC-ERROR-STRATEGY 1: without a strategy the whole run fails with the original error."""
    result, run = await run_dsl(
        [node("start", "start"), node("code", "fail", message="division by zero", error_type="CodeError"), _end()],
        chain("start", "code", "end"),
    )
    assert (result.status, result.error, result.error_type, result.failed_node) == (
        "failed",
        "division by zero",
        "CodeError",
        "code",
    )
    assert "end" not in run.journal.runs
    failed = run.of(ev.NodeFailed)[0]
    assert (failed.node_id, failed.error, failed.error_type) == ("code", "division by zero", "CodeError")
    assert isinstance(run.events[-1], ev.RunFailed)
    assert (run.events[-1].error, run.events[-1].error_type) == ("division by zero", "CodeError")


async def test_any_exception_of_a_node_fails_it_with_its_class_as_error_type() -> None:
    result, _ = await run_dsl(
        [node("start", "start"), node("code", "fail", plain=True, message="bad value")], chain("start", "code")
    )
    assert (result.status, result.error, result.error_type) == ("failed", "bad value", "ValueError")


async def test_a_failing_branch_fails_the_run_and_cancels_the_other_branches() -> None:
    result, run = await run_dsl(
        [node("start", "start"), node("hang", "work", hang=True), node("gate", "work", turns=1), node("code", "fail")],
        [*chain("start", "hang"), *chain("start", "gate", "code")],
    )
    assert (result.status, result.failed_node) == ("failed", "code")
    await run.journal.reached("cancelled", "hang")


async def test_default_value_continues_with_defaults_and_the_error() -> None:
    """EXEC-ERROR-STRATEGY 2: the node's outputs are the defaults, plus error_type and
    error_message, which downstream nodes can read; the run succeeds."""
    result, run = await run_dsl(
        [
            node("start", "start"),
            node(
                "code",
                "fail",
                message="upstream 500",
                error_type="HTTPError",
                error_strategy="default-value",
                default_value=[{"key": "body", "type": "string", "value": "{}"}, {"key": "status", "value": 0}],
            ),
            _end(
                ("body", ["code", "body"]),
                ("status", ["code", "status"]),
                ("type", ["code", "error_type"]),
                ("message", ["code", "error_message"]),
            ),
        ],
        chain("start", "code", "end"),
    )
    assert result.status == "succeeded", result.error
    assert result.outputs == {"body": "{}", "status": 0, "type": "HTTPError", "message": "upstream 500"}
    [exception] = run.of(ev.NodeException)
    assert (exception.node_id, exception.error, exception.error_type, exception.handle) == (
        "code",
        "upstream 500",
        "HTTPError",
        "source",
    )
    assert exception.outputs["body"] == "{}"
    assert not run.of(ev.NodeFailed)


def _fail_branch_graph(failures: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """code -(source)-> ok -> ok2 -> end; code -(fail-branch)-> recover -> end."""
    nodes = [
        node("start", "start"),
        node(
            "code",
            "fail",
            failures=failures,
            error_strategy="fail-branch",
            outputs={"result": "fine"},
            message="timeout talking to the API",
            error_type="APIError",
        ),
        node("ok", "copy", inputs={"v": ["code", "result"]}),
        node("ok2", "copy", inputs={"v": ["ok", "v"]}),
        node("recover", "copy", inputs={"v": ["code", "error_message"], "t": ["code", "error_type"]}),
        node("end", "aggregate", variables=[["ok2", "v"], ["recover", "v"]]),
    ]
    edges = [
        *chain("start", "code"),
        edge("code", "ok"),
        *chain("ok", "ok2", "end"),
        edge("code", "recover", "fail-branch"),
        *chain("recover", "end"),
    ]
    return nodes, edges


async def test_fail_branch_takes_the_fail_edge_and_skips_the_success_path() -> None:
    """EXEC-ERROR-STRATEGY 3: a failure takes the ``fail-branch`` edge; the success path is skipped
    (EXEC-BRANCH-EXCLUSIVE) and the error is readable on the fail path."""
    result, run = await run_dsl(*_fail_branch_graph(failures=None))
    assert result.status == "succeeded", result.error
    assert run.started() == ["start", "code", "recover", "end"]
    assert run.of(ev.NodeSucceeded)[-2].outputs == {"v": "timeout talking to the API", "t": "APIError"}
    assert run.of(ev.NodeSucceeded)[-1].outputs == {"output": "timeout talking to the API"}
    assert run.of(ev.NodeException)[0].handle == "fail-branch"


async def test_fail_branch_on_success_takes_the_success_path_and_skips_the_fail_edge() -> None:
    result, run = await run_dsl(*_fail_branch_graph(failures=0))
    assert result.status == "succeeded", result.error
    assert run.started() == ["start", "code", "ok", "ok2", "end"]
    assert run.of(ev.NodeSucceeded)[-1].outputs == {"output": "fine"}
    assert not run.of(ev.NodeException)


# -- retries --------------------------------------------------------------------------------------


def _retry(retries: int, interval_ms: int = 0) -> dict[str, Any]:
    return {"retry_config": {"retry_enabled": True, "max_retries": retries, "retry_interval": interval_ms}}


async def test_a_node_that_fails_twice_succeeds_on_its_third_attempt() -> None:
    """EXEC-RETRY: up to max_retries more attempts; each retry is an event; one start, one success."""
    result, run = await run_dsl(
        [
            node("start", "start"),
            node("code", "fail", failures=2, outputs={"x": 1}, message="flaky", **_retry(3)),
            _end(("x", ["code", "x"])),
        ],
        chain("start", "code", "end"),
    )
    assert (result.status, result.outputs) == ("succeeded", {"x": 1})
    assert run.journal.runs["code"] == 3
    assert [(e.node_id, e.attempt, e.error) for e in run.of(ev.NodeRetrying)] == [
        ("code", 1, "flaky"),
        ("code", 2, "flaky"),
    ]
    assert run.started().count("code") == 1
    assert not run.of(ev.NodeFailed)


async def test_exhausted_retries_fail_the_node() -> None:
    result, run = await run_dsl(
        [node("start", "start"), node("code", "fail", message="still down", **_retry(2))], chain("start", "code")
    )
    assert (result.status, result.error, result.failed_node) == ("failed", "still down", "code")
    assert run.journal.runs["code"] == 3
    assert len(run.of(ev.NodeRetrying)) == 2


async def test_the_error_strategy_applies_once_retries_are_exhausted() -> None:
    result, run = await run_dsl(
        [
            node("start", "start"),
            node(
                "code", "fail", error_strategy="default-value", default_value=[{"key": "x", "value": -1}], **_retry(1)
            ),
            _end(("x", ["code", "x"])),
        ],
        chain("start", "code", "end"),
    )
    assert (result.status, result.outputs) == ("succeeded", {"x": -1})
    assert run.journal.runs["code"] == 2
    assert [type(e).__name__ for e in run.events if getattr(e, "node_id", None) == "code"] == [
        "NodeStarted",
        "NodeRetrying",
        "NodeException",
    ]


async def test_a_retry_wait_does_not_block_other_branches() -> None:
    """EXEC-RETRY: the wait between attempts is the node's own; a parallel branch that starts
    when the first retry is announced runs to its end before the retrying node's next attempt."""
    harness = Harness(
        [
            node("start", "start"),
            node("code", "fail", failures=1, **_retry(1, interval_ms=200)),
            node("other", "work", gate="retrying", turns=1),
            node("after", "constant"),
            node("after2", "constant"),
        ],
        [*chain("start", "code"), *chain("start", "other", "after", "after2")],
    )

    def start_the_other_branch(event: ev.Event) -> None:
        if isinstance(event, ev.NodeRetrying):
            harness.journal.gate("retrying").set()

    harness.listeners.append(start_the_other_branch)
    result = await harness.go()
    assert result.status == "succeeded"
    order = [(type(e).__name__, e.node_id) for e in harness.events if isinstance(e, ev.NodeRetrying | ev.NodeSucceeded)]
    assert order.index(("NodeRetrying", "code")) < order.index(("NodeSucceeded", "after2"))
    assert order.index(("NodeSucceeded", "after2")) < order.index(("NodeSucceeded", "code"))
    assert order[-1] == ("NodeSucceeded", "code")


# -- timeouts -------------------------------------------------------------------------------------


async def test_a_node_past_its_timeout_fails_with_error_type_timeout() -> None:
    result, run = await run_dsl(
        [node("start", "start"), node("slow", "work", hang=True, timeout=0.05)], chain("start", "slow")
    )
    assert (result.status, result.error_type, result.failed_node) == ("failed", "Timeout", "slow")
    assert result.error == "the node timed out after 0.05 s"
    assert run.journal.of("cancelled") == ["slow"]


async def test_a_timed_out_node_with_a_default_value_lets_the_run_go_on() -> None:
    result, _ = await run_dsl(
        [
            node("start", "start"),
            node(
                "slow",
                "work",
                hang=True,
                timeout=0.05,
                error_strategy="default-value",
                default_value=[{"key": "text", "value": "n/a"}],
            ),
            _end(("text", ["slow", "text"]), ("type", ["slow", "error_type"])),
        ],
        chain("start", "slow", "end"),
    )
    assert (result.status, result.outputs) == ("succeeded", {"text": "n/a", "type": "Timeout"})


async def test_the_timeout_applies_to_each_attempt() -> None:
    result, run = await run_dsl(
        [node("start", "start"), node("slow", "work", hang=True, timeout=0.02, **_retry(2))], chain("start", "slow")
    )
    assert (result.status, result.error_type) == ("failed", "Timeout")
    assert run.journal.of("cancelled") == ["slow"] * 3
    assert len(run.of(ev.NodeRetrying)) == 2


@pytest.mark.parametrize("timeout", [None, 5])
async def test_a_timeout_error_raised_by_the_node_is_its_own_error(timeout: float | None) -> None:
    """Regression: a node raising TimeoutError itself (a client library's) was reported as the
    engine's timeout and, without a configured timeout, crashed the run with a TypeError."""
    result, _ = await run_dsl(
        [node("start", "start"), node("call", "work", raise_timeout=True, turns=0, timeout=timeout)],
        chain("start", "call"),
    )
    assert (result.status, result.error_type, result.error) == (
        "failed",
        "TimeoutError",
        "the upstream API took too long",
    )
