"""Throwaway node types for the engine tests, a factory for them, and DSL-shaped graph builders.

Every node records what it does in a shared :class:`Journal` (runs, enter/exit of async work,
chunks, cancellations), so tests assert on order instead of wall-clock time. Node code may await
``asyncio.sleep(0)`` to let other tasks in (simulated work); tests never sleep to wait.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from treadle.graph import (
    CheckpointStore,
    CompiledWorkflow,
    NodeSpec,
    RunLimits,
    RunResult,
    VariablePool,
    WorkflowRun,
    build_graph,
    compile_workflow,
)
from treadle.graph import events as ev
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRunError, NodeRuntime, PreparedNode


class Journal:
    """What the nodes of a run did, in order, with futures a test can await."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.runs: Counter[str] = Counter()
        self._waiters: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._gates: dict[str, asyncio.Event] = {}

    def record(self, what: str, node_id: str) -> None:
        self.log.append((what, node_id))
        waiter = self._waiters.get((what, node_id))
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def reached(self, what: str, node_id: str) -> None:
        """Wait until a node records ``what`` (returns at once if it already has)."""
        if (what, node_id) in self.log:
            return
        waiter = self._waiters.setdefault((what, node_id), asyncio.get_running_loop().create_future())
        await waiter

    def gate(self, name: str) -> asyncio.Event:
        """An event nodes configured with ``gate: name`` wait on before finishing."""
        return self._gates.setdefault(name, asyncio.Event())

    def of(self, what: str) -> list[str]:
        return [node_id for kind, node_id in self.log if kind == what]


class _Node(PreparedNode):
    def __init__(self, spec: NodeSpec, journal: Journal) -> None:
        self.spec = spec
        self.config: Mapping[str, Any] = spec.data
        self.journal = journal


class _SyncNode(_Node):
    def run(self, rt: NodeRuntime) -> NodeResult:
        self.journal.runs[rt.node_id] += 1
        self.journal.record("run", rt.node_id)
        return self.work(rt)

    def work(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult(dict(self.config.get("outputs", {})))


class _AsyncNode(_Node):
    async def run(self, rt: NodeRuntime) -> NodeResult:
        self.journal.runs[rt.node_id] += 1
        self.journal.record("run", rt.node_id)
        return await self.work(rt)

    async def work(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult(dict(self.config.get("outputs", {})))


class Constant(_SyncNode):
    """``outputs`` as configured (also the test start node)."""


class Copy(_SyncNode):
    """``inputs: {name: selector}`` copied to outputs of the same names."""

    def work(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult({name: rt.get(selector) for name, selector in self.config.get("inputs", {}).items()})


class Branch(_SyncNode):
    """Chooses ``handle``, or the text of the variable at ``selector``."""

    def work(self, rt: NodeRuntime) -> NodeResult:
        handle = self.config.get("handle") or str(rt.get(self.config["selector"])).lower()
        return NodeResult({}, handle=handle)


class Fail(_SyncNode):
    """Fails ``failures`` times (always if not set), then returns ``outputs``; with ``plain: true``
    it raises a ValueError instead of a NodeRunError."""

    def work(self, rt: NodeRuntime) -> NodeResult:
        failures = self.config.get("failures")
        if failures is None or self.journal.runs[rt.node_id] <= failures:
            if self.config.get("plain"):
                raise ValueError(self.config.get("message", "it broke"))
            raise NodeRunError(
                self.config.get("message", "it broke"), error_type=self.config.get("error_type", "Broken")
            )
        return super().work(rt)


class Work(_AsyncNode):
    """Simulated async work: records enter, yields ``turns`` times (and waits for its ``gate``, if
    configured), records exit. ``hang: true`` waits forever (and records a cancellation);
    ``raise_timeout: true`` raises a TimeoutError of its own, as a client library would."""

    async def work(self, rt: NodeRuntime) -> NodeResult:
        self.journal.record("enter", rt.node_id)
        try:
            for _ in range(int(self.config.get("turns", 3))):
                await asyncio.sleep(0)
            if "gate" in self.config:
                await self.journal.gate(self.config["gate"]).wait()
            if "seconds" in self.config:
                await asyncio.sleep(self.config["seconds"])
            if self.config.get("hang"):
                await asyncio.get_running_loop().create_future()
            if self.config.get("raise_timeout"):
                raise TimeoutError("the upstream API took too long")
        except asyncio.CancelledError:
            self.journal.record("cancelled", rt.node_id)
            raise
        self.journal.record("exit", rt.node_id)
        return await super().work(rt)


class Stream(_AsyncNode):
    """An LLM stand-in: emits ``chunks`` of ``text`` one by one with awaits between them; with
    ``gate`` it waits for the test's go before each chunk after the first."""

    async def work(self, rt: NodeRuntime) -> NodeResult:
        chunks = list(self.config.get("chunks", []))
        for index, chunk in enumerate(chunks):
            if index and "gate" in self.config:
                gate = self.journal.gate(f"{self.config['gate']}{index}")
                await gate.wait()
            else:
                await asyncio.sleep(0)
            rt.emit("text", chunk)
            self.journal.record(f"chunk {chunk}", rt.node_id)
        return NodeResult({"text": "".join(chunks)})


class Answer(_SyncNode):
    def work(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult({"answer": rt.render(str(self.config.get("answer", "")))})


class End(_SyncNode):
    def work(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult(
            {item["variable"]: rt.get_or(item["value_selector"]) for item in self.config.get("outputs", [])}
        )


class Aggregate(_SyncNode):
    """Variable-aggregator style: the first of ``variables`` that exists."""

    def work(self, rt: NodeRuntime) -> NodeResult:
        for selector in self.config.get("variables", []):
            value = rt.get_or(selector, _MISSING)
            if value is not _MISSING:
                return NodeResult({"output": value})
        return NodeResult({"output": None})


_MISSING = object()


class Assign(_SyncNode):
    """Assigner style: ``target`` set to ``value`` (or the variable at ``source``), or with
    ``operation: add`` / ``append`` changed by it."""

    def work(self, rt: NodeRuntime) -> NodeResult:
        target = self.config["target"]
        value = rt.get(self.config["source"]) if "source" in self.config else self.config.get("value")
        operation = self.config.get("operation", "set")
        if operation == "add":
            value = rt.get(target) + value
        elif operation == "append":
            value = [*rt.get(target), value]
        rt.assign(target, value)
        return NodeResult({})


class Iteration(_AsyncNode):
    """Runs its children per item of ``iterator_selector`` (in parallel with ``parallel: true``),
    collecting ``output_selector`` of each run; with ``error_mode: continue`` a failed item's
    output is its error type."""

    async def work(self, rt: NodeRuntime) -> NodeResult:
        items = rt.get(self.config["iterator_selector"])

        async def one(index: int, item: Any) -> Any:
            try:
                child = await rt.run_children({"item": item, "index": index})
            except NodeRunError as exc:
                if self.config.get("error_mode") != "continue":
                    raise
                return f"{exc.error_type}: {exc.message}"
            return child.get(self.config["output_selector"])

        if self.config.get("parallel"):
            output = list(await asyncio.gather(*(one(i, item) for i, item in enumerate(items))))
        else:
            output = [await one(i, item) for i, item in enumerate(items)]
        return NodeResult({"output": output})


class Loop(_AsyncNode):
    """Runs its children up to ``loop_count`` times with ``loop_variables`` (``{label, value}``)
    readable and writable as ``[loop id, label]``; stops after a round in which loop-end ran."""

    async def work(self, rt: NodeRuntime) -> NodeResult:
        state: dict[str, Any] = {item["label"]: item["value"] for item in self.config.get("loop_variables", [])}
        names = list(state)
        rounds = 0
        for index in range(int(self.config.get("loop_count", 1))):
            state["index"] = index
            child = await rt.run_children(state)
            rounds += 1
            if child.broke:
                break
        return NodeResult({**{name: state[name] for name in names}, "rounds": rounds})


class NeedsCount(_SyncNode):
    """Checks its configuration when prepared: ``count`` must be a positive number."""

    def __init__(self, spec: NodeSpec, journal: Journal) -> None:
        super().__init__(spec, journal)
        if not isinstance(spec.data.get("count"), int) or spec.data["count"] <= 0:
            raise NodeConfigError("must be a positive whole number", "count")


NODE_TYPES: dict[str, Callable[[NodeSpec, Journal], PreparedNode]] = {
    "start": Constant,
    "trigger-webhook": Constant,
    "trigger-schedule": Constant,
    "constant": Constant,
    "copy": Copy,
    "branch": Branch,
    "fail": Fail,
    "work": Work,
    "stream": Stream,
    "answer": Answer,
    "end": End,
    "aggregate": Aggregate,
    "assign": Assign,
    "iteration": Iteration,
    "iteration-start": Constant,
    "loop": Loop,
    "loop-start": Constant,
    "loop-end": Constant,
    "needs-count": NeedsCount,
}


class TestNodeFactory:
    """The engine's NodeFactory port over :data:`NODE_TYPES`; nodes share one journal."""

    __test__ = False  # not a pytest test class

    def __init__(self, journal: Journal | None = None) -> None:
        self.journal = journal or Journal()

    def prepare(self, spec: NodeSpec) -> PreparedNode:
        try:
            node_type = NODE_TYPES[spec.type]
        except KeyError:
            raise LookupError(f"no node type {spec.type!r}") from None
        return node_type(spec, self.journal)


# -- DSL-shaped graphs ----------------------------------------------------------------------------


def node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    """A DSL node: ``{id, data: {type, title, **data}}``."""
    return {"id": node_id, "data": {"type": node_type, "title": node_id.upper(), **data}}


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {"id": f"{source}-{handle}-{target}", "source": source, "target": target, "sourceHandle": handle}


def chain(*node_ids: str) -> list[dict[str, Any]]:
    """Edges joining ``node_ids`` one after another."""
    return [edge(a, b) for a, b in itertools.pairwise(node_ids)]


def compile_dsl(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], factory: TestNodeFactory | None = None
) -> tuple[CompiledWorkflow, TestNodeFactory]:
    factory = factory or TestNodeFactory()
    return compile_workflow(build_graph(nodes, edges), factory), factory


class Harness:
    """One compiled graph, a run of it, and everything it emitted."""

    def __init__(
        self,
        nodes: list[dict[str, Any]],
        edges: list[dict[str, Any]],
        *,
        pool: VariablePool | None = None,
        limits: RunLimits | None = None,
        checkpoints: CheckpointStore | None = None,
        depth: int = 0,
    ) -> None:
        self.compiled, factory = compile_dsl(nodes, edges)
        self.journal = factory.journal
        self.events: list[ev.Event] = []
        #: Called with every event after it is recorded (to react to the run as it goes).
        self.listeners: list[Callable[[ev.Event], None]] = []
        self.run = WorkflowRun(
            self.compiled,
            pool or VariablePool.for_run(),
            run_id="run-1",
            limits=limits,
            on_event=self._record,
            checkpoints=checkpoints,
            depth=depth,
        )

    def _record(self, event: ev.Event) -> None:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    async def go(self) -> RunResult:
        return await self.run.run()

    def of(self, event_type: type[ev.Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, event_type)]

    def succeeded(self) -> list[str]:
        return [event.node_id for event in self.of(ev.NodeSucceeded)]

    def started(self) -> list[str]:
        return [event.node_id for event in self.of(ev.NodeStarted)]

    def streamed(self, node_id: str | None = None) -> list[str]:
        return [e.text for e in self.of(ev.StreamChunk) if node_id is None or e.node_id == node_id]


async def run_dsl(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **options: Any
) -> tuple[RunResult, Harness]:
    harness = Harness(nodes, edges, **options)
    return await harness.go(), harness
