"""The scheduler: runs a compiled workflow graph on asyncio.

Readiness rule: a node runs when none of its incoming edges is undecided and at least one was
taken. A finished node decides each outgoing edge (taken if its handle is the one the node chose);
a node whose edges are all decided and none taken is skipped, and the skip propagates
(EXEC-BRANCH-EXCLUSIVE). Quick synchronous nodes run on the scheduler itself, one after another;
nodes that await (containers, nodes in plugin hosts) run as tasks, concurrently up to a bound, and
the scheduler wakes when one finishes: no polling, no sleeps. Retries wait in the node's own task.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from treadle_sdk.context import KernelClient
from treadle_sdk.nodes import (
    SOURCE_HANDLE,
    ContainerRun,
    NodeConfigError,
    NodeResult,
    NodeRunError,
    NodeRuntime,
    PreparedNode,
)

from . import events as ev
from .errors import GraphBuildError, Problem
from .graph import FAIL_BRANCH, Graph, NodeSpec
from .ports import Checkpoint, CheckpointStore, NodeFactory
from .streaming import StreamCoordinator, StreamPlan, plan_streams
from .variables import VariablePool

__all__ = ["CompiledWorkflow", "EventSink", "RunLimits", "RunResult", "WorkflowRun", "compile_workflow"]

EventSink = Callable[[ev.Event], None]

#: Node types whose outputs make up a workflow's outputs (EXEC-OUTPUT-MERGE).
_END = "end"
_ANSWER = "answer"
_LOOP_END = "loop-end"


@dataclass(frozen=True)
class RunLimits:
    """Run limits; defaults are Dify's (WORKFLOW_MAX_EXECUTION_STEPS, _TIME, WORKFLOW_CALL_MAX_DEPTH)."""

    max_steps: int = 500
    max_seconds: float = 1200.0
    max_depth: int = 5
    #: How many awaiting nodes (tasks) may run at once.
    max_concurrency: int = 32


@dataclass(frozen=True)
class CompiledWorkflow:
    """A graph with every node prepared by its node type: compiled once, run many times."""

    graph: Graph
    prepared: Mapping[str, PreparedNode]
    #: Nodes whose ``run`` is a coroutine function (they run as tasks).
    awaiting: frozenset[str]
    streams: Mapping[str, StreamPlan]
    #: Number of incoming edges of each node, per scope (copied for each scope run).
    in_degree: Mapping[str | None, dict[str, int]]


def compile_workflow(graph: Graph, factory: NodeFactory) -> CompiledWorkflow:
    """Prepare every node; raise :class:`GraphBuildError` listing every node that cannot be."""
    problems: list[Problem] = []
    prepared: dict[str, PreparedNode] = {}
    for node_id, spec in graph.nodes.items():
        try:
            prepared[node_id] = factory.prepare(spec)
        except NodeConfigError as exc:
            problems.append(Problem(exc.message, node_id, f"data.{exc.path}" if exc.path else "data"))
        except LookupError as exc:
            problems.append(Problem(str(exc.args[0] if exc.args else exc), node_id, "data.type"))
    if problems:
        raise GraphBuildError(problems)
    awaiting = frozenset(n for n, p in prepared.items() if inspect.iscoroutinefunction(type(p).run))
    return CompiledWorkflow(
        graph=graph,
        prepared=prepared,
        awaiting=awaiting,
        streams=plan_streams(graph),
        in_degree=_scope_degrees(graph),
    )


def _scope_degrees(graph: Graph) -> dict[str | None, dict[str, int]]:
    degrees: dict[str | None, dict[str, int]] = {}
    for node_id, spec in graph.nodes.items():
        degrees.setdefault(spec.container, {})[node_id] = len(graph.incoming[node_id])
    return degrees


@dataclass
class RunResult:
    """How a run ended."""

    run_id: str
    status: str  # succeeded | failed | stopped | paused
    outputs: dict[str, Any] = field(default_factory=dict)
    #: The text of the Answer nodes, in stream order (chatflows).
    answer: str = ""
    error: str = ""
    error_type: str = ""
    #: The node whose failure failed the run.
    failed_node: str = ""
    steps: int = 0
    elapsed: float = 0.0


def _no_lookup(selector: Any) -> Any:
    return None


def _no_emit(node_id: str, text: str, selector: Any) -> None:
    return None


class _NodeFailure(Exception):
    """A node failed and its error strategy is ``none``: the scope it runs in fails."""

    def __init__(self, node_id: str, error: str, error_type: str) -> None:
        super().__init__(error)
        self.node_id = node_id
        self.error = error
        self.error_type = error_type


class _Halt(BaseException):
    """The run must end now: stopped, paused, or a run limit was hit. A BaseException, so that
    node code catching Exception around ``run_children`` cannot swallow it."""

    def __init__(self, status: str, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def _error_of(exc: BaseException) -> tuple[str, str]:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    error_type = getattr(exc, "error_type", None) or type(exc).__name__
    return str(message), str(error_type)


class _ChildRun(ContainerRun):
    __slots__ = ("_pool", "broke")

    def __init__(self, pool: VariablePool, broke: bool) -> None:
        self._pool = pool
        self.broke = broke

    def get(self, selector: Sequence[str]) -> Any:
        return self._pool.get(selector)


class _Runtime(NodeRuntime):
    """The runtime one node execution gets."""

    __slots__ = ("_scope", "node_id")

    def __init__(self, scope: _Scope, node_id: str) -> None:
        self.node_id = node_id
        self._scope = scope

    @property
    def kernel(self) -> KernelClient | None:  # type: ignore[override]  # read-only here, set per run
        return self._scope.run.kernel

    def get(self, selector: Sequence[str]) -> Any:
        return self._scope.pool.get(selector)

    def emit(self, variable: str, chunk: str) -> None:
        self._scope.run._chunk(self._scope, self.node_id, variable, chunk)

    def assign(self, selector: Sequence[str], value: Any) -> None:
        self._scope.pool.assign(selector, value)

    def log(self, entry: Mapping[str, Any]) -> None:
        self._scope.run._log(self._scope, self.node_id, entry)

    async def run_children(self, variables: Mapping[str, Any]) -> ContainerRun:
        return await self._scope.run._run_container(self._scope, self.node_id, variables)


class _Scope:
    """One pass over one scope of the graph: the top level, or one container run."""

    def __init__(
        self,
        run: WorkflowRun,
        container: str | None,
        pool: VariablePool,
        *,
        index: int | None = None,
    ) -> None:
        self.run = run
        self.container = container
        self.pool = pool
        self.tag: tuple[str, int] | None = None if container is None or index is None else (container, index)
        graph = run.compiled.graph
        self.remaining: dict[str, int] = dict(run.compiled.in_degree.get(container, {}))
        self.taken: set[str] = set()
        self.done: list[str] = []
        self.ready: deque[str] = deque(graph.roots.get(container, ()))
        self.tasks: set[asyncio.Task[tuple[str, NodeResult | None, BaseException | None, float]]] = set()
        self.finished_tasks: deque[asyncio.Task[tuple[str, NodeResult | None, BaseException | None, float]]] = deque()
        self.wakeup: asyncio.Future[None] | None = None
        self.broke = False

    # -- the loop ---------------------------------------------------------------------------------

    async def execute(self) -> None:
        run = self.run
        compiled = run.compiled
        try:
            while True:
                while self.ready:
                    run._check_limits()
                    if run._pause_requested and self.container is None:
                        if self.tasks:
                            break  # the nodes in flight finish first, so the checkpoint has none half-run
                        raise _Halt("paused", run._pause_reason)
                    node_id = self.ready.popleft()
                    if node_id in compiled.awaiting or compiled.graph.nodes[node_id].retry is not None:
                        # A scope with no task of its own always gets one: a container's children
                        # must not wait for the slot their own container node holds.
                        if len(run._tasks) >= run.limits.max_concurrency and self.tasks:
                            self.ready.appendleft(node_id)
                            break
                        self._start_task(node_id)
                    else:
                        self._run_now(node_id)
                if not self.tasks:
                    if self.ready:
                        continue
                    return
                while not self.finished_tasks:
                    self.wakeup = asyncio.get_running_loop().create_future()
                    try:
                        await self.wakeup
                    finally:
                        self.wakeup = None
                while self.finished_tasks:
                    task = self.finished_tasks.popleft()
                    self.tasks.discard(task)
                    if task.cancelled():  # only stop() and the time limit cancel node tasks
                        raise run._halt or _Halt("stopped", "a node was cancelled", "Stopped")
                    node_id, result, error, started = task.result()
                    if error is None:
                        assert result is not None
                        self._succeeded(node_id, result, started)
                    else:
                        self._failed(node_id, error, started)
        except BaseException:
            for task in self.tasks:
                task.cancel()
            raise

    def _run_now(self, node_id: str) -> None:
        run = self.run
        started = run._node_started(self, node_id)
        rt = _Runtime(self, node_id)
        try:
            result = run.compiled.prepared[node_id].run(rt)
            if not isinstance(result, NodeResult):
                raise NodeRunError(
                    f"the node returned {type(result).__name__}, not a NodeResult", error_type="MalformedNodeResult"
                )
        except (_Halt, _NodeFailure):
            raise
        except Exception as exc:
            self._failed(node_id, exc, started)
            return
        self._succeeded(node_id, result, started)

    def _start_task(self, node_id: str) -> None:
        run = self.run
        task = asyncio.get_running_loop().create_task(self._run_task(node_id), name=node_id)
        self.tasks.add(task)
        run._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.run._tasks.discard(task)
        self.finished_tasks.append(task)
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    async def _run_task(self, node_id: str) -> tuple[str, NodeResult | None, BaseException | None, float]:
        run = self.run
        spec = run.compiled.graph.nodes[node_id]
        prepared = run.compiled.prepared[node_id]
        started = run._node_started(self, node_id)
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(spec.timeout) as deadline:
                    result = prepared.run(_Runtime(self, node_id))
                    if inspect.isawaitable(result):
                        result = await result
                if not isinstance(result, NodeResult):
                    raise NodeRunError(
                        f"the node returned {type(result).__name__}, not a NodeResult",
                        error_type="MalformedNodeResult",
                    )
                return node_id, result, None, started
            except (_Halt, _NodeFailure):
                raise
            except TimeoutError as exc:
                # Only the node's own deadline is a Timeout; a TimeoutError the node raised is its error.
                error: Exception = (
                    NodeRunError(f"the node timed out after {spec.timeout:g} s", error_type="Timeout")
                    if spec.timeout is not None and deadline.expired()
                    else exc
                )
            except Exception as exc:
                error = exc
            if spec.retry is None or attempt >= spec.retry.max_retries:
                return node_id, None, error, started
            attempt += 1
            run._emit_retry(self, spec, attempt, error)
            await asyncio.sleep(spec.retry.interval)

    # -- outcomes ---------------------------------------------------------------------------------

    def _succeeded(self, node_id: str, result: NodeResult, started: float) -> None:
        run = self.run
        spec = run.compiled.graph.nodes[node_id]
        self.pool.set_outputs(node_id, result.outputs)
        run._node_succeeded(self, spec, result, started)
        if spec.type == _LOOP_END:
            self.broke = True
        self._decide(node_id, result.handle)
        run._node_decided(self, node_id)

    def _failed(self, node_id: str, exc: BaseException, started: float) -> None:
        run = self.run
        spec = run.compiled.graph.nodes[node_id]
        message, error_type = _error_of(exc)
        if spec.error_strategy is None:
            run._node_failed(self, spec, message, error_type, started)
            raise _NodeFailure(node_id, message, error_type)
        outputs: dict[str, Any] = {"error_message": message, "error_type": error_type}
        handle = SOURCE_HANDLE
        if spec.error_strategy == "default-value":
            outputs = {**spec.default_values, **outputs}
        else:
            handle = FAIL_BRANCH
        self.pool.set_outputs(node_id, outputs)
        run._node_exception(self, spec, message, error_type, outputs, handle, started)
        self._decide(node_id, handle)
        run._node_decided(self, node_id)

    def _decide(self, node_id: str, handle: str) -> None:
        self.done.append(node_id)
        remaining = self.remaining
        for edge in self.run.compiled.graph.outgoing[node_id]:
            target = edge.target
            remaining[target] -= 1
            if edge.handle == handle:
                self.taken.add(target)
            if remaining[target] == 0:
                if target in self.taken:
                    self.ready.append(target)
                else:
                    self._skip(target)

    def _skip(self, node_id: str) -> None:
        self.run._node_skipped(self, node_id)
        remaining = self.remaining
        for edge in self.run.compiled.graph.outgoing[node_id]:
            target = edge.target
            remaining[target] -= 1
            if remaining[target] == 0:
                if target in self.taken:
                    self.ready.append(target)
                else:
                    self._skip(target)


class WorkflowRun:
    """One execution of a compiled workflow.

    ``on_event`` receives every event as it happens (sync; wrap it for async consumers). ``stop()``
    and ``pause()`` may be called at any time (a command channel calls them for remote commands).
    """

    def __init__(
        self,
        compiled: CompiledWorkflow,
        pool: VariablePool,
        *,
        run_id: str | None = None,
        limits: RunLimits | None = None,
        on_event: EventSink | None = None,
        depth: int = 0,
        checkpoints: CheckpointStore | None = None,
        checkpoint_every_node: bool = False,
        kernel: KernelClient | None = None,
    ) -> None:
        self.compiled = compiled
        self.kernel = kernel
        self.pool = pool
        self.run_id = run_id or str(uuid.uuid4())
        self.limits = limits or RunLimits()
        self._sink = on_event
        self.depth = depth
        self.checkpoints = checkpoints
        self.checkpoint_every_node = checkpoint_every_node
        self.steps = 0
        self.outputs: dict[str, Any] = {}
        self._answer: list[str] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = 0.0
        self._deadline = 0.0
        self._halt: _Halt | None = None
        self._pause_requested = False
        self._pause_reason = ""
        self._ran = False
        self._streams = self._new_streams()
        self._pending_saves: list[asyncio.Task[None]] = []

    # -- commands ---------------------------------------------------------------------------------

    def stop(self, reason: str = "stopped by request") -> None:
        """End the run now; nodes in flight are cancelled."""
        self._halt = _Halt("stopped", reason)
        for task in list(self._tasks):
            task.cancel()

    def pause(self, reason: str = "paused by request") -> None:
        """Stop scheduling new nodes; once the running ones finish, save a checkpoint and end."""
        self._pause_requested = True
        self._pause_reason = reason

    # -- running ----------------------------------------------------------------------------------

    async def run(self, *, resume: Checkpoint | None = None) -> RunResult:
        """Run to the end (or to a stop, pause or failure) and say how it ended."""
        try:
            return await self._run(resume)
        finally:
            # The coordinator holds a method of this run: dropping it at the end leaves no reference
            # cycle, so the run's objects go as soon as the last reference does, not at the next full
            # collection of the garbage collector (which under load pauses the server for hundreds of ms).
            self._streams = self._new_streams(closed=True)

    def _new_streams(self, *, closed: bool = False) -> StreamCoordinator:
        if closed:
            return StreamCoordinator({}, self.compiled.graph, _no_lookup, _no_emit)
        return StreamCoordinator(self.compiled.streams, self.compiled.graph, self.pool.get, self._stream_text)

    async def _run(self, resume: Checkpoint | None) -> RunResult:
        if self._ran:
            raise RuntimeError(f"run {self.run_id!r} has run already: a WorkflowRun runs once (resume makes a new one)")
        self._ran = True
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._deadline = self._started + self.limits.max_seconds
        watchdog = loop.call_at(self._deadline, self._time_up)
        top = _Scope(self, None, self.pool)
        if resume is not None:
            self._restore(top, resume)
        else:
            if self.depth > self.limits.max_depth:
                watchdog.cancel()
                return self._finish("failed", f"workflow calls nest deeper than {self.limits.max_depth}",
                                    "DepthLimitExceeded")
            self._emit(ev.RunStarted(self.run_id))
        if self._streams.active:
            self._streams.start()
        try:
            await top.execute()
        except _NodeFailure as failure:
            result = self._finish("failed", failure.error, failure.error_type, failed_node=failure.node_id)
        except _Halt as halt:
            result = await self._halted(top, halt)
        except asyncio.CancelledError:
            if self._halt is None:
                raise
            result = await self._halted(top, self._halt)
        else:
            result = self._finish("succeeded")
        finally:
            watchdog.cancel()
        if self._pending_saves:
            await asyncio.gather(*self._pending_saves)
        return result

    async def _halted(self, top: _Scope, halt: _Halt) -> RunResult:
        halt = self._halt or halt
        if halt.status == "paused":
            checkpoint = self._checkpoint(top, "paused")
            if self.checkpoints is not None:
                await self.checkpoints.save(checkpoint)
            self._emit(ev.RunPaused(self.run_id, reason=halt.message, checkpoint_id=self.run_id))
            return self._result("paused", halt.message)
        if halt.status == "stopped":
            return self._finish("stopped", halt.message, "Stopped")
        return self._finish("failed", halt.message, halt.error_type)

    def _time_up(self) -> None:
        self._halt = _Halt("failed", f"the run passed its {self.limits.max_seconds:g} s limit", "TimeLimitExceeded")
        for task in list(self._tasks):
            task.cancel()

    def _check_limits(self) -> None:
        if self._halt is not None:
            raise self._halt
        if self.steps >= self.limits.max_steps:
            raise _Halt("failed", f"the run passed its limit of {self.limits.max_steps} steps", "StepLimitExceeded")

    def _result(self, status: str, error: str = "", error_type: str = "", failed_node: str = "") -> RunResult:
        return RunResult(
            run_id=self.run_id,
            status=status,
            outputs=self.outputs,
            answer="".join(self._answer),
            error=error,
            error_type=error_type,
            failed_node=failed_node,
            steps=self.steps,
            elapsed=asyncio.get_running_loop().time() - self._started,
        )

    def _finish(self, status: str, error: str = "", error_type: str = "", *, failed_node: str = "") -> RunResult:
        result = self._result(status, error, error_type, failed_node)
        if self._sink is not None:
            if status == "succeeded":
                self._sink(ev.RunSucceeded(self.run_id, outputs=result.outputs, steps=result.steps,
                                           elapsed=result.elapsed))
            elif status == "stopped":
                self._sink(ev.RunStopped(self.run_id, reason=error, outputs=result.outputs, steps=result.steps,
                                         elapsed=result.elapsed))
            else:
                self._sink(ev.RunFailed(self.run_id, error=error, error_type=error_type, outputs=result.outputs,
                                        steps=result.steps, elapsed=result.elapsed))
        return result

    # -- checkpoints ------------------------------------------------------------------------------

    def _checkpoint(self, top: _Scope, status: str) -> Checkpoint:
        # Nodes in flight (or finished but not yet decided) run again on resume.
        in_flight = [task.get_name() for task in top.tasks]
        return Checkpoint(
            run_id=self.run_id,
            status=status,
            variables=self.pool.snapshot(),
            remaining=dict(top.remaining),
            taken=sorted(top.taken),
            ready=[*in_flight, *top.ready],
            done=list(top.done),
            outputs=dict(self.outputs),
            answer="".join(self._answer),
            steps=self.steps,
            extra={"streams": self._streams.snapshot()},
        )

    def _restore(self, top: _Scope, checkpoint: Checkpoint) -> None:
        self.pool.restore(checkpoint.variables)
        top.remaining = dict(checkpoint.remaining)
        top.taken = set(checkpoint.taken)
        top.ready = deque(checkpoint.ready)
        top.done = list(checkpoint.done)
        self.outputs = dict(checkpoint.outputs)
        self._answer = [checkpoint.answer] if checkpoint.answer else []
        self.steps = checkpoint.steps
        # Streams go on from where they were: text already streamed is not streamed again.
        self._streams.restore(checkpoint.extra.get("streams", {}))

    # -- containers -------------------------------------------------------------------------------

    async def _run_container(self, parent: _Scope, node_id: str, variables: Mapping[str, Any]) -> ContainerRun:
        graph = self.compiled.graph
        if node_id not in graph.roots:
            raise NodeRunError(f"node {node_id} has no children to run")
        pool = parent.pool.child()
        spec = graph.nodes[node_id]
        # Loop variables are written by assigners inside the loop, so the loop's dict is bound as is.
        bound = variables if isinstance(variables, dict) else dict(variables)
        pool.bind_scope(node_id, bound, writable=spec.type == "loop")
        index = bound.get("index", 0)
        scope = _Scope(self, node_id, pool, index=index if isinstance(index, int) else 0)
        self._emit(ev.ContainerNext(self.run_id, node_id=node_id, index=scope.tag[1] if scope.tag else 0))
        try:
            await scope.execute()
        except _NodeFailure as failure:
            raise NodeRunError(failure.error, error_type=failure.error_type) from None
        return _ChildRun(pool, scope.broke)

    # -- event plumbing (hot path: keep it lean) --------------------------------------------------

    def _emit(self, event: ev.Event) -> None:
        if self._sink is not None:
            self._sink(event)

    def _node_started(self, scope: _Scope, node_id: str) -> float:
        self.steps += 1
        if self._sink is not None:
            spec = self.compiled.graph.nodes[node_id]
            self._sink(ev.NodeStarted(self.run_id, node_id=node_id, node_type=spec.type, title=spec.title,
                                      index=self.steps, scope=scope.tag))
        if scope.container is None and node_id in self.compiled.streams:
            self._streams.flush(node_id)
        return time.perf_counter()

    def _node_succeeded(self, scope: _Scope, spec: NodeSpec, result: NodeResult, started: float) -> None:
        if self._sink is not None:
            self._sink(ev.NodeSucceeded(self.run_id, node_id=spec.id, node_type=spec.type, outputs=result.outputs,
                                        handle=result.handle, inputs=result.inputs,
                                        process_data=result.process_data,
                                        elapsed=time.perf_counter() - started, scope=scope.tag))
        if scope.container is None:
            if spec.type == _END:
                self.outputs.update(result.outputs)
        elif spec.type == _ANSWER:
            self._stream_text(spec.id, str(result.outputs.get("answer", "")), None)

    def _node_decided(self, scope: _Scope, node_id: str) -> None:
        """A top-level node's outgoing edges are decided: streams move on (after the skips, so an
        Answer on a branch not taken never opens), and the checkpoint includes the node."""
        if scope.container is not None:
            return
        if self._streams.active:
            self._streams.finished(node_id)
        if self.checkpoint_every_node and self.checkpoints is not None:
            save = asyncio.get_running_loop().create_task(self.checkpoints.save(self._checkpoint(scope, "running")))
            self._pending_saves.append(save)

    def _node_exception(self, scope: _Scope, spec: NodeSpec, message: str, error_type: str,
                        outputs: dict[str, Any], handle: str, started: float) -> None:
        if self._sink is not None:
            self._sink(ev.NodeException(self.run_id, node_id=spec.id, node_type=spec.type, error=message,
                                        error_type=error_type, outputs=outputs, handle=handle,
                                        elapsed=time.perf_counter() - started, scope=scope.tag))

    def _node_failed(self, scope: _Scope, spec: NodeSpec, message: str, error_type: str, started: float) -> None:
        if self._sink is not None:
            self._sink(ev.NodeFailed(self.run_id, node_id=spec.id, node_type=spec.type, error=message,
                                     error_type=error_type, elapsed=time.perf_counter() - started, scope=scope.tag))

    def _node_skipped(self, scope: _Scope, node_id: str) -> None:
        if scope.container is None and self._streams.active:
            self._streams.skipped(node_id)

    def _emit_retry(self, scope: _Scope, spec: NodeSpec, attempt: int, error: BaseException) -> None:
        if self._sink is not None:
            self._sink(ev.NodeRetrying(self.run_id, node_id=spec.id, node_type=spec.type, attempt=attempt,
                                       error=_error_of(error)[0], scope=scope.tag))

    def _chunk(self, scope: _Scope, node_id: str, variable: str, text: str) -> None:
        if scope.container is None and self._streams.active:
            self._streams.chunk(node_id, variable, text)

    def _log(self, scope: _Scope, node_id: str, entry: Mapping[str, Any]) -> None:
        if self._sink is not None:
            node_type = self.compiled.graph.nodes[node_id].type
            self._sink(
                ev.AgentLog(self.run_id, node_id=node_id, node_type=node_type, entry=dict(entry), scope=scope.tag)
            )

    def _stream_text(self, node_id: str, text: str, selector: tuple[str, ...] | None) -> None:
        if self.compiled.graph.nodes[node_id].type == _ANSWER:
            self._answer.append(text)
        if self._sink is not None:
            self._sink(ev.StreamChunk(self.run_id, node_id=node_id, text=text, selector=selector))

