"""RunRecorder turns a real engine run's events into workflow_runs and node_executions rows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graph.nodes_for_tests import Harness, chain, node
from sqlalchemy import event as sa_event
from sqlalchemy import select
from treadle.graph import events as ev
from treadle.store import Database, NodeExecution, RunRecorder, RunRecorderError, WorkflowRun

from .worlds import workspace_with_app


def _recorder(db: Database, tenant_id: str, app_id: str, **extra: Any) -> RunRecorder:
    return RunRecorder(db, tenant_id=tenant_id, app_id=app_id, version="draft", created_by_role="account", **extra)


async def _recorded_run(db: Database, harness: Harness, recorder: RunRecorder, during: Any = None) -> str:
    harness.listeners.append(recorder.on_event)
    async with recorder:
        running = asyncio.create_task(harness.go())
        if during is not None:
            await during()
        await running
    return harness.run.run_id


async def _rows(db: Database, run_id: str) -> tuple[WorkflowRun, list[NodeExecution]]:
    async with db.session() as s:
        run = await s.get(WorkflowRun, run_id)
        assert run is not None
        executions = list(await s.scalars(
            select(NodeExecution).where(NodeExecution.workflow_run_id == run_id)
            .order_by(NodeExecution.index, NodeExecution.status)
        ))  # fmt: skip
    return run, executions


def _usage(tokens: int, price: str) -> dict[str, Any]:
    return {"prompt_tokens": tokens - 2, "completion_tokens": 2, "total_tokens": tokens, "total_price": price,
            "currency": "USD"}  # fmt: skip


async def test_a_run_with_an_iteration_tokens_and_a_handled_exception(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db, mode="workflow")
    harness = Harness(
        [
            node("start", "start", outputs={"items": ["x", "y"]}),
            node("llm", "constant", outputs={"text": "hi", "usage": _usage(30, "0.0003")}),
            node("it", "iteration", iterator_selector=["start", "items"], output_selector=["echo", "v"],
                 start_node_id="it-start"),
            node("it-start", "iteration-start", iteration_id="it"),
            node("echo", "copy", iteration_id="it", inputs={"v": ["it", "item"]}),
            node("shaky", "fail", message="upstream 500", error_type="HTTPError", error_strategy="default-value",
                 default_value=[{"key": "body", "type": "string", "value": "{}"}]),
            node("end", "end", outputs=[{"variable": "items", "value_selector": ["it", "output"]},
                                        {"variable": "text", "value_selector": ["llm", "text"]}]),
        ],
        [*chain("start", "llm", "it", "shaky", "end"), *chain("it-start", "echo")],
    )  # fmt: skip
    recorder = _recorder(db, tenant_id, app_id, inputs={"topic": "cats"}, triggered_from="debugging")
    run_id = await _recorded_run(db, harness, recorder)

    run, executions = await _rows(db, run_id)
    assert run.id == "run-1"
    assert (run.status, run.outputs, run.error) == ("partial-succeeded", {"items": ["x", "y"], "text": "hi"}, None)
    assert (run.inputs, run.triggered_from, run.version, run.created_by_role) == (
        {"topic": "cats"}, "debugging", "draft", "account"
    )  # fmt: skip
    assert (run.total_tokens, run.exceptions_count, run.total_steps) == (30, 1, len(executions))
    assert run.finished_at is not None and run.elapsed_time > 0

    assert [(e.index, e.node_id, e.status) for e in executions] == [
        (1, "start", "succeeded"), (2, "llm", "succeeded"), (3, "it", "succeeded"),
        (4, "it-start", "succeeded"), (5, "echo", "succeeded"), (6, "it-start", "succeeded"),
        (7, "echo", "succeeded"), (8, "shaky", "exception"), (9, "end", "succeeded"),
    ]  # fmt: skip
    by_id = {(e.node_id, e.index): e for e in executions}
    llm = by_id["llm", 2]
    assert llm.execution_metadata == {"total_tokens": 30, "total_price": "0.0003", "currency": "USD"}
    assert (llm.node_type, llm.title, llm.outputs) == ("constant", "LLM", {"text": "hi", "usage": _usage(30, "0.0003")})
    assert [(e.execution_metadata, e.outputs) for e in executions if e.node_id == "echo"] == [
        ({"iteration_id": "it", "iteration_index": 0}, {"v": "x"}),
        ({"iteration_id": "it", "iteration_index": 1}, {"v": "y"}),
    ]
    shaky = by_id["shaky", 8]
    assert (shaky.error, shaky.execution_metadata["error_type"]) == ("upstream 500", "HTTPError")
    assert shaky.outputs is not None and shaky.outputs["body"] == "{}"
    assert all(e.finished_at is not None and e.tenant_id == tenant_id for e in executions)


async def test_loop_rounds_carry_the_loop_scope(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db, mode="workflow")
    harness = Harness(
        [node("start", "start"), node("loop", "loop", loop_count=2), node("loop-start", "loop-start", loop_id="loop"),
         node("body", "constant", loop_id="loop", outputs={"n": 1})],
        [*chain("start", "loop"), *chain("loop-start", "body")],
    )  # fmt: skip
    run_id = await _recorded_run(db, harness, _recorder(db, tenant_id, app_id))
    run, executions = await _rows(db, run_id)
    assert run.status == "succeeded"
    assert [e.execution_metadata for e in executions if e.node_id == "body"] == [
        {"loop_id": "loop", "loop_index": 0}, {"loop_id": "loop", "loop_index": 1}
    ]  # fmt: skip


async def test_a_failed_run_with_retries(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db, mode="workflow")
    retry = {"retry_config": {"retry_enabled": True, "max_retries": 1, "retry_interval": 0}}
    harness = Harness(
        [node("start", "start"), node("flaky", "fail", failures=1, outputs={"ok": True}, **retry),
         node("broken", "fail", message="disk full", error_type="IOError")],
        chain("start", "flaky", "broken"),
    )  # fmt: skip
    run_id = await _recorded_run(db, harness, _recorder(db, tenant_id, app_id))
    run, executions = await _rows(db, run_id)
    assert (run.status, run.error) == ("failed", "disk full")
    assert [(e.node_id, e.status, e.error) for e in executions] == [
        ("start", "succeeded", None), ("flaky", "retry", "it broke"), ("flaky", "succeeded", None),
        ("broken", "failed", "disk full"),
    ]  # fmt: skip
    assert executions[1].execution_metadata["retry_index"] == 1


async def test_a_stopped_run_closes_the_executions_left_open(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db, mode="workflow")
    harness = Harness([node("start", "start"), node("hang", "work", hang=True)], chain("start", "hang"))

    async def stop_when_hanging() -> None:
        await harness.journal.reached("enter", "hang")
        harness.run.stop("the user pressed stop")

    run_id = await _recorded_run(db, harness, _recorder(db, tenant_id, app_id), stop_when_hanging)
    run, executions = await _rows(db, run_id)
    assert (run.status, run.error) == ("stopped", "the user pressed stop")
    assert [(e.node_id, e.status) for e in executions] == [("start", "succeeded"), ("hang", "stopped")]
    assert executions[1].finished_at is not None


async def test_a_run_can_be_listed_while_it_goes(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db, mode="workflow")
    harness = Harness([node("start", "start"), node("hang", "work", hang=True)], chain("start", "hang"))

    async def look_then_stop() -> None:
        await harness.journal.reached("enter", "hang")
        for _ in range(100):
            async with db.session() as s:
                statuses = list(await s.scalars(select(NodeExecution.status).where(NodeExecution.node_id == "hang")))
            if statuses:
                break
            await asyncio.sleep(0)
        assert statuses == ["running"]
        async with db.session() as s:
            running = await s.get(WorkflowRun, harness.run.run_id)
            assert running is not None and running.status == "running" and running.finished_at is None
        harness.run.stop()

    await _recorded_run(db, harness, _recorder(db, tenant_id, app_id), look_then_stop)


async def test_misuse_is_refused_with_what_went_wrong(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    recorder = _recorder(db, tenant_id, app_id)
    with pytest.raises(RunRecorderError, match="enter the RunRecorder"):
        recorder.on_event(ev.RunStarted("run-1"))
    await recorder.record(ev.RunStarted("run-1"))
    with pytest.raises(RunRecorderError, match="event of run 'run-2'"):
        await recorder.record(ev.RunStarted("run-2"))
    with pytest.raises(RunRecorderError, match="node 'ghost' ended"):
        await recorder.record(ev.NodeSucceeded("run-1", node_id="ghost", node_type="code"))
    with pytest.raises(RunRecorderError, match="longer than the 36"):
        await _recorder(db, tenant_id, app_id).record(ev.RunStarted("r" * 37))


async def test_runs_written_together_go_in_one_transaction_each_in_its_order(db: Database) -> None:
    """The group writer merges what many recorders hand in at once into one statement per kind
    (API-WF-RUN under load): new runs are inserted before their executions, runs already stored
    are updated alongside, and the whole group is one transaction, not one per run."""
    tenant_id, app_id = await workspace_with_app(db, mode="workflow")
    stored = [_recorder(db, tenant_id, app_id) for _ in range(10)]
    for number, recorder in enumerate(stored):
        await recorder.record(ev.RunStarted(f"stored-{number}"))
        await recorder.record(ev.NodeStarted(f"stored-{number}", node_id="start", node_type="start", index=1))
    fresh = [_recorder(db, tenant_id, app_id) for _ in range(10)]
    counts = {"commit": 0, "before_cursor_execute": 0}

    def counter(name: str) -> Any:
        def count(*_args: Any) -> None:
            counts[name] += 1

        return count

    listeners = [(name, counter(name)) for name in counts]
    for name, listener in listeners:
        sa_event.listen(db.engine.sync_engine, name, listener)
    try:

        async def finish(number: int, recorder: RunRecorder) -> None:
            await recorder._record_all([
                ev.NodeSucceeded(f"stored-{number}", node_id="start", node_type="start", outputs={"n": number}),
                ev.RunSucceeded(f"stored-{number}", outputs={"n": number}, steps=1),
            ])  # fmt: skip

        async def whole(number: int, recorder: RunRecorder) -> None:
            await recorder._record_all([
                ev.RunStarted(f"fresh-{number}"),
                ev.NodeStarted(f"fresh-{number}", node_id="start", node_type="start", index=1),
                ev.NodeSucceeded(f"fresh-{number}", node_id="start", node_type="start", outputs={"n": number}),
                ev.RunSucceeded(f"fresh-{number}", outputs={"n": number}, steps=1),
            ])  # fmt: skip

        await asyncio.gather(
            *(finish(n, r) for n, r in enumerate(stored)), *(whole(n, r) for n, r in enumerate(fresh))
        )
    finally:
        for name, listener in listeners:
            sa_event.remove(db.engine.sync_engine, name, listener)
    # The first recorder to write starts a transaction of its own; everyone after it waits for the
    # next, together. Had the merged group failed (an execution before its run), each recorder
    # would have been written again alone: 20 transactions. Merged, a group is a statement per kind
    # of write (insert runs, update runs, insert executions, update executions), not 2-3 per run.
    assert counts["commit"] <= 2
    assert counts["before_cursor_execute"] <= 2 * 4
    for run_id in [*(f"stored-{n}" for n in range(10)), *(f"fresh-{n}" for n in range(10))]:
        run, executions = await _rows(db, run_id)
        number = int(run_id.rpartition("-")[2])
        assert (run.status, run.outputs) == ("succeeded", {"n": number})
        assert [(e.node_id, e.status, e.outputs) for e in executions] == [("start", "succeeded", {"n": number})]
