"""Writes what one engine run does into ``workflow_runs`` and ``node_executions`` (the run logs).

The engine's event sink is synchronous and on its hot path, so :meth:`RunRecorder.on_event` only
queues; a writer task applies the events in order, one transaction each, so a run being listed
while it goes shows how far it got. Use it as an async context manager around the run::

    async with RunRecorder(db, tenant_id=..., app_id=..., version="draft", created_by_role="account",
                           created_by_account_id=account.id, inputs=inputs) as recorder:
        await WorkflowRun(compiled, pool, on_event=recorder.on_event).run()
"""

from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ..graph import events as ev
from .database import Database
from .runs import NodeExecution, WorkflowRun
from .types import new_id, utcnow

__all__ = ["RunRecorder", "RunRecorderError"]

_CONTAINER_KEYS = {"loop": ("loop_id", "loop_index")}
_ITERATION_KEYS = ("iteration_id", "iteration_index")
_Key = tuple[str, tuple[str, int] | None]


class RunRecorderError(RuntimeError):
    """The recorder was misused (events of two runs, an event before it was entered) or its writer failed."""


class RunRecorder:
    """Records one run: the ``workflow_runs`` row (its id is the engine's run id) and a
    ``node_executions`` row per node execution, including each round of an iteration or loop.

    ``inputs`` are the run's inputs as the caller gave them (the engine's RunStarted carries none).
    A run that ends with handled node exceptions is ``partial-succeeded``, as in Dify; executions
    still open when the run ends (cancelled by a stop or another branch's failure) end ``stopped``.
    A resumed run (no RunStarted) reopens its row.
    """

    def __init__(
        self,
        database: Database,
        *,
        tenant_id: str,
        app_id: str,
        version: str,
        created_by_role: str,
        workflow_id: str | None = None,
        type: str = "workflow",
        triggered_from: str = "app-run",
        created_by_account_id: str | None = None,
        created_by_end_user_id: str | None = None,
        conversation_id: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        self._db = database
        self._fields: dict[str, Any] = {
            "tenant_id": tenant_id,
            "app_id": app_id,
            "workflow_id": workflow_id,
            "version": version,
            "type": type,
            "triggered_from": triggered_from,
            "created_by_role": created_by_role,
            "created_by_account_id": created_by_account_id,
            "created_by_end_user_id": created_by_end_user_id,
            "conversation_id": conversation_id,
            "inputs": dict(inputs or {}),
        }
        self.run_id: str | None = None
        self._open: dict[_Key, str] = {}
        self._node_types: dict[str, str] = {}
        self._tokens = 0
        self._exceptions = 0
        self._row_ready = False
        self._queue: asyncio.Queue[ev.Event | None] | None = None
        self._writer: asyncio.Task[None] | None = None

    # -- the engine's sink ------------------------------------------------------------------------

    def on_event(self, event: ev.Event) -> None:
        """The engine's ``on_event``: queues ``event`` for the writer (enter the recorder first)."""
        if self._queue is None:
            raise RunRecorderError("enter the RunRecorder (async with) before passing it events")
        if self._writer is not None and self._writer.done():
            return  # the writer failed; __aexit__ raises its error
        self._queue.put_nowait(event)

    async def __aenter__(self) -> RunRecorder:
        self._queue = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write_all(self._queue))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._queue is not None and self._writer is not None
        self._queue.put_nowait(None)
        writer, self._queue, self._writer = self._writer, None, None
        await writer

    async def _write_all(self, queue: asyncio.Queue[ev.Event | None]) -> None:
        while (event := await queue.get()) is not None:
            await self.record(event)

    # -- applying events --------------------------------------------------------------------------

    async def record(self, event: ev.Event) -> None:
        """Apply one event to the records now (what the writer does with each queued event)."""
        if self.run_id is None:
            if len(event.run_id) > 36:
                raise RunRecorderError(f"run id {event.run_id!r} is longer than the 36 characters a record id holds")
            self.run_id = event.run_id
        elif event.run_id != self.run_id:
            raise RunRecorderError(f"event of run {event.run_id!r} given to the recorder of run {self.run_id!r}")
        async with self._db.session() as session:
            await self._apply(session, event)

    async def _apply(self, session: AsyncSession, event: ev.Event) -> None:
        match event:
            case ev.RunStarted():
                await self._open_run(session, event.inputs)
            case ev.NodeStarted():
                await self._node_started(session, event)
            case ev.NodeSucceeded():
                tokens, metadata = _usage(event.outputs)
                self._tokens += tokens
                await self._close_node(
                    session,
                    (event.node_id, event.scope),
                    status="succeeded",
                    outputs=event.outputs,
                    inputs=event.inputs,
                    process_data=event.process_data,
                    elapsed_time=event.elapsed,
                    metadata=metadata,
                )
            case ev.NodeException():
                self._exceptions += 1
                await self._close_node(
                    session,
                    (event.node_id, event.scope),
                    status="exception",
                    outputs=event.outputs,
                    error=event.error,
                    elapsed_time=event.elapsed,
                    metadata={"error_type": event.error_type},
                )
            case ev.NodeFailed():
                await self._close_node(
                    session,
                    (event.node_id, event.scope),
                    status="failed",
                    error=event.error,
                    elapsed_time=event.elapsed,
                    metadata={"error_type": event.error_type},
                )
            case ev.NodeRetrying():
                await self._node_retrying(session, event)
            case ev.RunSucceeded():
                status = "partial-succeeded" if self._exceptions else "succeeded"
                await self._close_run(session, status, event.outputs, None, event.steps, event.elapsed)
            case ev.RunFailed():
                await self._close_run(session, "failed", event.outputs, event.error, event.steps, event.elapsed)
            case ev.RunStopped():
                await self._close_run(session, "stopped", event.outputs, event.reason, event.steps, event.elapsed)
            case ev.RunPaused():
                await self._ensure_run(session)
                await session.execute(self._run_update().values(status="paused"))
            case _:
                # Stream chunks, container rounds and agent logs are for the live stream, not the logs.
                await self._ensure_run(session)

    def _run_update(self) -> Any:
        return update(WorkflowRun).where(WorkflowRun.id == self.run_id)

    async def _open_run(self, session: AsyncSession, inputs: dict[str, Any]) -> None:
        fields = dict(self._fields)
        if inputs:
            fields["inputs"] = inputs
        session.add(WorkflowRun(id=self.run_id, status="running", **fields))
        self._row_ready = True

    async def _ensure_run(self, session: AsyncSession) -> None:
        """The run's row exists and says running (a resumed run has one already, paused)."""
        if self._row_ready:
            return
        row = await session.get(WorkflowRun, self.run_id)
        if row is None:
            await self._open_run(session, {})
        else:
            row.status = "running"
            row.finished_at = None
            self._tokens = row.total_tokens
            self._exceptions = row.exceptions_count
            self._row_ready = True
        await session.flush()

    async def _node_started(self, session: AsyncSession, event: ev.NodeStarted) -> None:
        await self._ensure_run(session)
        self._node_types[event.node_id] = event.node_type
        metadata: dict[str, Any] = {}
        if event.scope is not None:
            container, index = event.scope
            id_key, index_key = _CONTAINER_KEYS.get(self._node_types.get(container, ""), _ITERATION_KEYS)
            metadata = {id_key: container, index_key: index}
        execution = NodeExecution(
            id=new_id(), tenant_id=self._fields["tenant_id"], app_id=self._fields["app_id"],
            workflow_run_id=self.run_id, index=event.index, node_id=event.node_id, node_type=event.node_type,
            title=event.title, status="running", execution_metadata=metadata,
        )  # fmt: skip
        session.add(execution)
        self._open[(event.node_id, event.scope)] = execution.id

    async def _node_retrying(self, session: AsyncSession, event: ev.NodeRetrying) -> None:
        """A failed attempt that will be retried: a ``retry`` record of its own beside the open execution."""
        await self._ensure_run(session)
        open_id = self._open.get((event.node_id, event.scope))
        current = await session.get(NodeExecution, open_id) if open_id is not None else None
        now = utcnow()
        session.add(NodeExecution(
            id=new_id(), tenant_id=self._fields["tenant_id"], app_id=self._fields["app_id"],
            workflow_run_id=self.run_id, index=current.index if current is not None else 0, node_id=event.node_id,
            node_type=event.node_type, title=current.title if current is not None else "", status="retry",
            error=event.error, created_at=now, finished_at=now,
            execution_metadata={**(current.execution_metadata if current is not None else {}),
                                "retry_index": event.attempt},
        ))  # fmt: skip

    async def _close_node(
        self, session: AsyncSession, key: _Key, *, status: str, elapsed_time: float, metadata: dict[str, Any],
        outputs: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
        process_data: dict[str, Any] | None = None, error: str | None = None,
    ) -> None:  # fmt: skip
        await self._ensure_run(session)
        execution_id = self._open.pop(key, None)
        if execution_id is None:
            raise RunRecorderError(f"run {self.run_id!r}: node {key[0]!r} ended ({status}) without having started")
        execution = await session.get(NodeExecution, execution_id)
        assert execution is not None
        execution.status = status
        execution.inputs = inputs
        execution.process_data = process_data
        execution.outputs = outputs
        execution.error = error
        execution.elapsed_time = elapsed_time
        execution.execution_metadata = {**execution.execution_metadata, **metadata}
        execution.finished_at = utcnow()

    async def _close_run(self, session: AsyncSession, status: str, outputs: dict[str, Any], error: str | None,
                         steps: int, elapsed: float) -> None:  # fmt: skip
        await self._ensure_run(session)
        now = utcnow()
        if self._open:
            await session.execute(
                update(NodeExecution)
                .where(NodeExecution.id.in_(self._open.values()))
                .values(status="stopped", finished_at=now)
            )
            self._open.clear()
        await session.execute(self._run_update().values(
            status=status, outputs=outputs, error=error or None, total_steps=steps, elapsed_time=elapsed,
            total_tokens=self._tokens, exceptions_count=self._exceptions, finished_at=now,
        ))  # fmt: skip


def _usage(outputs: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Tokens and price a node reports in ``outputs.usage`` (LLM-backed nodes), as execution metadata."""
    usage = outputs.get("usage")
    if not isinstance(usage, dict):
        return 0, {}
    tokens = usage.get("total_tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        return 0, {}
    metadata: dict[str, Any] = {"total_tokens": tokens}
    price = usage.get("total_price")
    if price is not None:
        try:
            metadata["total_price"] = str(Decimal(str(price)))
        except InvalidOperation:
            pass
        else:
            metadata["currency"] = str(usage.get("currency") or "USD")
    return tokens, metadata
