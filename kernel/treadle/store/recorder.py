"""Writes what one engine run does into ``workflow_runs`` and ``node_executions`` (the run logs).

The engine's event sink is synchronous and on its hot path, so :meth:`RunRecorder.on_event` only
queues; a writer task applies the events in order. Each time it wakes it takes every event queued so
far and writes them in one transaction, so a run being listed while it goes shows how far it got,
and a fast run costs a transaction or two rather than one per event. Use it as an async context
manager around the run::

    async with RunRecorder(db, tenant_id=..., app_id=..., version="draft", created_by_role="account",
                           created_by_account_id=account.id, inputs=inputs) as recorder:
        await WorkflowRun(compiled, pool, on_event=recorder.on_event).run()
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from ..graph import events as ev
from .database import Database
from .runs import NodeExecution, WorkflowRun
from .types import new_id, utcnow

__all__ = ["RunRecorder", "RunRecorderError"]

_CONTAINER_KEYS = {"loop": ("loop_id", "loop_index")}
_ITERATION_KEYS = ("iteration_id", "iteration_index")
_Key = tuple[str, tuple[str, int] | None]
_RUNS = cast(Table, WorkflowRun.__table__)
_EXECUTIONS = cast(Table, NodeExecution.__table__)
#: Every column an execution row is inserted with (one INSERT for many rows needs the same keys).
_EXECUTION_COLUMNS = (
    "id", "tenant_id", "app_id", "workflow_run_id", "index", "node_id", "node_type", "title", "inputs",
    "process_data", "outputs", "status", "error", "elapsed_time", "execution_metadata", "created_at", "finished_at",
)  # fmt: skip


class RunRecorderError(RuntimeError):
    """The recorder was misused (events of two runs, an event before it was entered) or its writer failed."""


class RunRecorder:
    """Records one run: the ``workflow_runs`` row (its id is the engine's run id) and a
    ``node_executions`` row per node execution, including each round of an iteration or loop.

    ``inputs`` are the run's inputs as the caller gave them (the engine's RunStarted carries none).
    A run that ends with handled node exceptions is ``partial-succeeded``, as in Dify; executions
    still open when the run ends (cancelled by a stop or another branch's failure) end ``stopped``.
    A resumed run (no RunStarted) reopens its row.

    Events change rows held in memory; a flush writes what changed since the last one: new rows in
    one INSERT each table, changed ones as UPDATEs of the changed columns.
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
        flush_interval: float = 0.0,
    ) -> None:
        self._db = database
        #: How long events may wait to be written with the ones after them; the run's end writes
        #: at once. 0: every batch the writer finds is written as soon as it wakes.
        self._flush_interval = flush_interval
        self._closing = asyncio.Event()
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
        #: Open executions by (node id, scope): their ids.
        self._open: dict[_Key, str] = {}
        #: Every column of each open execution (what closing and retrying it need).
        self._executions: dict[str, dict[str, Any]] = {}
        self._node_types: dict[str, str] = {}
        self._tokens = 0
        self._exceptions = 0
        self._row_ready = False
        #: The run row's columns to write: all of them until it is stored, then what changed.
        self._run_pending: dict[str, Any] = {}
        self._run_stored = False
        #: Executions to insert, and changed columns of stored ones, by id.
        self._new_executions: dict[str, dict[str, Any]] = {}
        self._changed_executions: dict[str, dict[str, Any]] = {}
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
        self._closing.set()
        self._queue.put_nowait(None)
        writer, self._queue, self._writer = self._writer, None, None
        await writer

    async def _write_all(self, queue: asyncio.Queue[ev.Event | None]) -> None:
        """Write every event queued by the time the writer wakes in one transaction, until the end."""
        while True:
            batch = [await queue.get()]
            if batch[-1] is not None and self._flush_interval > 0 and not self._closing.is_set():
                # A short run is written once, at its end; a long one every flush_interval.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), self._flush_interval)
            while batch[-1] is not None and not queue.empty():
                batch.append(queue.get_nowait())
            events = [event for event in batch if event is not None]
            if events:
                await self._record_all(events)
            if batch[-1] is None:
                return

    # -- applying events --------------------------------------------------------------------------

    async def record(self, event: ev.Event) -> None:
        """Apply one event to the records now (in a transaction of its own)."""
        await self._record_all([event])

    async def _record_all(self, events: list[ev.Event]) -> None:
        for event in events:
            if self.run_id is None:
                if len(event.run_id) > 36:
                    raise RunRecorderError(
                        f"run id {event.run_id!r} is longer than the 36 characters a record id holds"
                    )
                self.run_id = event.run_id
            elif event.run_id != self.run_id:
                raise RunRecorderError(f"event of run {event.run_id!r} given to the recorder of run {self.run_id!r}")
        if not self._row_ready and not isinstance(events[0], ev.RunStarted):
            await self._find_run()
        for event in events:
            self._apply(event)
        writes = self._take_writes()
        if writes:
            await _group_writer(self._db).write(writes)

    def _apply(self, event: ev.Event) -> None:
        match event:
            case ev.RunStarted():
                self._open_run(event.inputs)
            case ev.NodeStarted():
                self._node_started(event)
            case ev.NodeSucceeded():
                tokens, metadata = _usage(event.outputs)
                self._tokens += tokens
                self._close_node(
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
                self._close_node(
                    (event.node_id, event.scope),
                    status="exception",
                    outputs=event.outputs,
                    error=event.error,
                    elapsed_time=event.elapsed,
                    metadata={"error_type": event.error_type},
                )
            case ev.NodeFailed():
                self._close_node(
                    (event.node_id, event.scope),
                    status="failed",
                    error=event.error,
                    elapsed_time=event.elapsed,
                    metadata={"error_type": event.error_type},
                )
            case ev.NodeRetrying():
                self._node_retrying(event)
            case ev.RunSucceeded():
                status = "partial-succeeded" if self._exceptions else "succeeded"
                self._close_run(status, event.outputs, None, event.steps, event.elapsed)
            case ev.RunFailed():
                self._close_run("failed", event.outputs, event.error, event.steps, event.elapsed)
            case ev.RunStopped():
                self._close_run("stopped", event.outputs, event.reason, event.steps, event.elapsed)
            case ev.RunPaused():
                self._ensure_run()
                self._run_pending["status"] = "paused"
            case _:
                # Stream chunks, container rounds and agent logs are for the live stream, not the logs.
                self._ensure_run()

    def _open_run(self, inputs: dict[str, Any]) -> None:
        fields = dict(self._fields)
        if inputs:
            fields["inputs"] = inputs
        self._run_pending = {
            "id": self.run_id, "status": "running", "outputs": {}, "error": None, "elapsed_time": 0.0,
            "total_tokens": 0, "total_steps": 0, "exceptions_count": 0, "created_at": utcnow(), "finished_at": None,
            **fields,
        }  # fmt: skip
        self._run_stored = False
        self._row_ready = True

    def _ensure_run(self) -> None:
        """The run's row exists (or is queued) and says running: a recorder whose first event was
        not RunStarted has looked for the row first (:meth:`_find_run`)."""
        if not self._row_ready:
            self._open_run({})

    async def _find_run(self) -> None:
        """A resumed run (its first event here is not RunStarted) has a row already, paused: reopen it."""
        async with self._db.session() as session:
            found = (await session.execute(
                select(_RUNS.c.total_tokens, _RUNS.c.exceptions_count).where(_RUNS.c.id == self.run_id)
            )).first()  # fmt: skip
        if found is None:
            return
        self._tokens, self._exceptions = found
        self._run_pending = {"status": "running", "finished_at": None}
        self._run_stored = True
        self._row_ready = True

    def _node_started(self, event: ev.NodeStarted) -> None:
        self._ensure_run()
        self._node_types[event.node_id] = event.node_type
        metadata: dict[str, Any] = {}
        if event.scope is not None:
            container, index = event.scope
            id_key, index_key = _CONTAINER_KEYS.get(self._node_types.get(container, ""), _ITERATION_KEYS)
            metadata = {id_key: container, index_key: index}
        execution = self._new_execution(
            index=event.index, node_id=event.node_id, node_type=event.node_type, title=event.title,
            status="running", execution_metadata=metadata,
        )  # fmt: skip
        execution_id: str = execution["id"]
        self._executions[execution_id] = execution
        self._open[(event.node_id, event.scope)] = execution_id

    def _new_execution(self, **values: Any) -> dict[str, Any]:
        """A new execution row of this run, queued for insertion; its columns."""
        row: dict[str, Any] = dict.fromkeys(_EXECUTION_COLUMNS)
        row.update(
            id=new_id(), tenant_id=self._fields["tenant_id"], app_id=self._fields["app_id"],
            workflow_run_id=self.run_id, title="", elapsed_time=0.0, execution_metadata={}, created_at=utcnow(),
        )  # fmt: skip
        row.update(values)
        self._new_executions[str(row["id"])] = row
        return row

    def _change_execution(self, execution: dict[str, Any], **values: Any) -> None:
        """Set columns of an execution: in its pending insert, or as an update of its stored row."""
        execution.update(values)
        if execution["id"] not in self._new_executions:
            self._changed_executions.setdefault(execution["id"], {}).update(values)

    def _node_retrying(self, event: ev.NodeRetrying) -> None:
        """A failed attempt that will be retried: a ``retry`` record of its own beside the open execution."""
        self._ensure_run()
        open_id = self._open.get((event.node_id, event.scope))
        current = self._executions.get(open_id) if open_id is not None else None
        now = utcnow()
        self._new_execution(
            index=current["index"] if current is not None else 0, node_id=event.node_id,
            node_type=event.node_type, title=current["title"] if current is not None else "", status="retry",
            error=event.error, created_at=now, finished_at=now,
            execution_metadata={**(current["execution_metadata"] if current is not None else {}),
                                "retry_index": event.attempt},
        )  # fmt: skip

    def _close_node(
        self, key: _Key, *, status: str, elapsed_time: float, metadata: dict[str, Any],
        outputs: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
        process_data: dict[str, Any] | None = None, error: str | None = None,
    ) -> None:  # fmt: skip
        self._ensure_run()
        execution_id = self._open.pop(key, None)
        if execution_id is None:
            raise RunRecorderError(f"run {self.run_id!r}: node {key[0]!r} ended ({status}) without having started")
        execution = self._executions.pop(execution_id)
        self._change_execution(
            execution, status=status, inputs=inputs, process_data=process_data, outputs=outputs, error=error,
            elapsed_time=elapsed_time, execution_metadata={**execution["execution_metadata"], **metadata},
            finished_at=utcnow(),
        )  # fmt: skip

    def _close_run(self, status: str, outputs: dict[str, Any], error: str | None, steps: int,
                   elapsed: float) -> None:  # fmt: skip
        self._ensure_run()
        now = utcnow()
        for execution_id in self._open.values():
            self._change_execution(self._executions.pop(execution_id), status="stopped", finished_at=now)
        self._open.clear()
        self._run_pending.update(
            status=status, outputs=outputs, error=error or None, total_steps=steps, elapsed_time=elapsed,
            total_tokens=self._tokens, exceptions_count=self._exceptions, finished_at=now,
        )  # fmt: skip

    # -- writing ----------------------------------------------------------------------------------

    def _take_writes(self) -> list[_Write]:
        """The statements that write what changed since the last time, in order (the run row first:
        executions refer to it); what they write is then taken as stored."""
        writes: list[_Write] = []
        if self._run_pending:
            if self._run_stored:
                writes.append((_update(_RUNS, self._run_pending), [_update_params(self.run_id, self._run_pending)]))
            else:
                writes.append((_INSERT_RUN, [self._run_pending]))
                self._run_stored = True
            self._run_pending = {}
        if self._new_executions:
            writes.append((_INSERT_EXECUTIONS, list(self._new_executions.values())))
            self._new_executions = {}
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for execution_id, values in self._changed_executions.items():
            by_columns.setdefault(tuple(sorted(values)), []).append(_update_params(execution_id, values))
        self._changed_executions = {}
        writes.extend((_update(_EXECUTIONS, columns), rows) for columns, rows in by_columns.items())
        return writes


#: One statement and its parameter sets (several: executemany).
_Write = tuple[Any, list[dict[str, Any]]]
_INSERT_RUN = insert(_RUNS)
_INSERT_EXECUTIONS = insert(_EXECUTIONS)
_UPDATES: dict[tuple[Any, tuple[str, ...]], Any] = {}
#: The order kinds of writes go in when merged (updates of runs: 1, of executions: 3).
_WRITE_ORDER = {id(_INSERT_RUN): 0, id(_INSERT_EXECUTIONS): 2}


def _update(table: Any, columns: Iterable[str]) -> Any:
    """``UPDATE table SET columns WHERE id = :_id``, made once per table and set of columns (so its
    compiled form is cached). Parameters are named apart from the columns, which SQLAlchemy keeps."""
    key = (table, tuple(sorted(columns)))
    statement = _UPDATES.get(key)
    if statement is None:
        statement = _UPDATES[key] = (
            update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(f"_{c}") for c in key[1]})
        )
    return statement


def _update_params(row_id: str | None, values: dict[str, Any]) -> dict[str, Any]:
    return {"_id": row_id, **{f"_{column}": value for column, value in values.items()}}


class _GroupWriter:
    """Writes the changes of every recorder on one database, together: what the recorders hand in
    while a transaction is under way goes into the next one (group commit). Under load a
    transaction carries many runs' events instead of each run paying for its own; alone, a run
    waits for nobody. A failed group is written again one recorder at a time, so only the
    recorder whose changes fail hears of it.
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self._pending: list[tuple[list[_Write], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, writes: list[_Write]) -> None:
        """Write ``writes`` in a transaction; return once it is committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((writes, done))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._write_groups())
        await done

    async def _write_groups(self) -> None:
        group: list[tuple[list[_Write], asyncio.Future[None]]] = []
        try:
            while self._pending:
                group, self._pending = self._pending, []
                await self._write_group(group)
        except BaseException:  # cancelled (the loop is closing): nobody is left waiting forever
            for _, done in [*group, *self._pending]:
                _settle(done, RunRecorderError("the run log writer was stopped before it wrote this run's events"))
            self._pending = []
            raise

    async def _write_group(self, group: list[tuple[list[_Write], asyncio.Future[None]]]) -> None:
        try:
            await self._commit([writes for writes, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            for writes, done in group:
                try:
                    await self._commit([writes])
                except Exception as alone:
                    _settle(done, alone)
                else:
                    _settle(done, None)
        else:
            for _, done in group:
                _settle(done, None)

    async def _commit(self, groups: list[list[_Write]]) -> None:
        async with self._db.session() as session:
            for statement, params in _merged(groups):
                await session.execute(statement, params)


def _merged(groups: list[list[_Write]]) -> list[_Write]:
    """The writes of several recorders as one statement per kind, each with every recorder's
    parameter sets (executemany: the driver sends them in one round trip, not one per run).

    Recorders write rows of their own runs only, so their writes may be interleaved; within one
    recorder the order that matters is kept by writing kinds in a fixed order: run rows before the
    executions that refer to them, inserts of executions before updates (of rows stored earlier)."""
    merged: dict[int, _Write] = {}
    for writes in groups:
        for statement, params in writes:
            found = merged.get(id(statement))
            if found is None:
                merged[id(statement)] = (statement, list(params))
            else:
                found[1].extend(params)
    return sorted(merged.values(), key=_write_order)


def _write_order(write: _Write) -> int:
    statement = write[0]
    return _WRITE_ORDER.get(id(statement), 1 if statement.table is _RUNS else 3)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return  # its recorder's task was cancelled
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


_WRITERS: weakref.WeakKeyDictionary[Database, _GroupWriter] = weakref.WeakKeyDictionary()


def _group_writer(database: Database) -> _GroupWriter:
    """The group writer of ``database`` on the running event loop."""
    writer = _WRITERS.get(database)
    loop = asyncio.get_running_loop()
    if writer is None or (writer._task is not None and writer._task.get_loop() is not loop):
        writer = _WRITERS[database] = _GroupWriter(database)
    return writer


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
