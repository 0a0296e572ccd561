"""Answer and End streaming in template order (EXEC-ANSWER-STREAM).

Each top-level Answer node (and End node) has its template split into literals and variable
references. Its stream opens once every branch node it depends on has decided (so nothing is
streamed for a branch that will be skipped) and every Answer (End) before it has finished (so
Answers in a row stream one after the other). An open stream emits literals up to the first variable
whose node has not finished; while that node streams chunks of the variable, they pass straight
through; when it finishes, the stream moves on. Chunks of a later variable wait in a buffer: the
order of the template, not the order nodes finish in, decides what is streamed.
End nodes stream only chunks their variables' nodes stream (their values are in the outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from treadle_sdk.nodes import SOURCE_HANDLE
from treadle_sdk.templates import Selector, parse_template, to_text

from .graph import Graph

__all__ = ["STREAM_TYPES", "StreamCoordinator", "StreamPlan", "plan_streams"]

STREAM_TYPES = frozenset({"answer", "end"})
#: Node types that may assign conversation variables (a variable assigner, or a container that may
#: hold one).
_WRITER_TYPES = frozenset({"assigner", "variable-assigner", "iteration", "loop"})


@dataclass(frozen=True)
class StreamPlan:
    node_id: str
    parts: tuple[str | Selector, ...]
    #: Branch and stream nodes upstream of this one: the stream opens when all have decided.
    gates: frozenset[str]
    #: End nodes stream only chunks, never literal text or whole values.
    chunks_only: bool
    #: Nodes upstream that may assign conversation variables: a ``conversation`` part waits for them,
    #: so the text shows the value as it is when this node is reached.
    writers: frozenset[str] = frozenset()


def _gate_nodes(graph: Graph) -> set[str]:
    """Nodes a stream downstream of them waits for: branch nodes (any edge with a handle other than
    ``source``, even if only one branch is connected: the other leads nowhere, and the stream must
    not open before it is known which) and the stream nodes (so Answers in a row stream in turn)."""
    gates = set()
    for node_id, spec in graph.nodes.items():
        handles = {edge.handle for edge in graph.outgoing[node_id]}
        if handles - {SOURCE_HANDLE} or spec.error_strategy == "fail-branch" or spec.type in STREAM_TYPES:
            gates.add(node_id)
    return gates


def _ancestors(graph: Graph, node_id: str) -> set[str]:
    seen: set[str] = set()
    stack = [edge.source for edge in graph.incoming[node_id]]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(edge.source for edge in graph.incoming[current])
    return seen


def plan_streams(graph: Graph) -> dict[str, StreamPlan]:
    """Stream plans of the top-level Answer and End nodes."""
    gating = _gate_nodes(graph)
    plans = {}
    for node_id, spec in graph.nodes.items():
        if spec.container is not None or spec.type not in STREAM_TYPES:
            continue
        if spec.type == "answer":
            parts: tuple[str | Selector, ...] = tuple(parse_template(str(spec.data.get("answer", ""))))
        else:
            parts = tuple(
                tuple(str(s) for s in output.get("value_selector", []))
                for output in spec.data.get("outputs", []) or []
                if isinstance(output, Mapping) and output.get("value_selector")
            )
        ancestors = _ancestors(graph, node_id)
        gates = frozenset(ancestors & gating)
        writers = frozenset(a for a in ancestors if graph.nodes[a].type in _WRITER_TYPES)
        plans[node_id] = StreamPlan(node_id, parts, gates, chunks_only=spec.type == "end", writers=writers)
    return plans


@dataclass
class _Stream:
    plan: StreamPlan
    cursor: int = 0
    open: bool = False
    closed: bool = False
    #: Chunks already passed through for the part at the cursor.
    streamed_current: bool = False
    buffers: dict[int, list[str]] = field(default_factory=dict)


class StreamCoordinator:
    """Tracks every stream of one run and emits text through ``emit(stream_node_id, text, selector)``."""

    def __init__(
        self,
        plans: Mapping[str, StreamPlan],
        graph: Graph,
        lookup: Callable[[Selector], Any],
        emit: Callable[[str, str, Selector | None], None],
    ) -> None:
        self._graph = graph
        self._lookup = lookup
        self._emit = emit
        self._streams = {node_id: _Stream(plan) for node_id, plan in plans.items()}
        self._finished: set[str] = set()
        self._skipped: set[str] = set()
        # (node, variable) -> [(stream node, part index)]: who waits for chunks of that variable.
        self._by_source: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self._by_node: dict[str, list[str]] = {}
        self._by_gate: dict[str, list[str]] = {}
        for node_id, plan in plans.items():
            for writer in plan.writers:
                self._by_node.setdefault(writer, []).append(node_id)
            for index, part in enumerate(plan.parts):
                if not isinstance(part, str) and len(part) >= 2:
                    self._by_source.setdefault((part[0], part[1]), []).append((node_id, index))
                    self._by_node.setdefault(part[0], []).append(node_id)
            for gate in plan.gates:
                self._by_gate.setdefault(gate, []).append(node_id)

    @property
    def active(self) -> bool:
        return bool(self._streams)

    def start(self) -> None:
        for stream in self._streams.values():
            self._try_open(stream)

    def chunk(self, node_id: str, variable: str, text: str) -> None:
        for stream_id, index in self._by_source.get((node_id, variable), ()):
            stream = self._streams[stream_id]
            if stream.closed:
                continue
            if stream.open and stream.cursor == index:
                stream.streamed_current = True
                self._emit(stream_id, text, (node_id, variable))
            else:
                stream.buffers.setdefault(index, []).append(text)

    def finished(self, node_id: str) -> None:
        self._finished.add(node_id)
        self._decided(node_id)
        for stream_id in self._by_node.get(node_id, ()):
            self._advance(self._streams[stream_id])

    def skipped(self, node_id: str) -> None:
        self._skipped.add(node_id)
        stream = self._streams.get(node_id)
        if stream is not None:
            stream.closed = True
        self._decided(node_id)
        for stream_id in self._by_node.get(node_id, ()):
            self._advance(self._streams[stream_id])

    def snapshot(self) -> dict[str, Any]:
        """Where every stream stands, as JSON-ready data (for checkpoints)."""
        return {
            "finished": sorted(self._finished),
            "skipped": sorted(self._skipped),
            "streams": {
                node_id: {
                    "cursor": stream.cursor,
                    "open": stream.open,
                    "closed": stream.closed,
                    "streamed_current": stream.streamed_current,
                    "buffers": [[index, list(texts)] for index, texts in stream.buffers.items()],
                }
                for node_id, stream in self._streams.items()
            },
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Carry on from :meth:`snapshot`'s data: nothing already streamed is streamed again."""
        self._finished = set(state.get("finished", ()))
        self._skipped = set(state.get("skipped", ()))
        for node_id, saved in state.get("streams", {}).items():
            stream = self._streams.get(node_id)
            if stream is None:
                continue
            stream.cursor = int(saved["cursor"])
            stream.open = bool(saved["open"])
            stream.closed = bool(saved["closed"])
            stream.streamed_current = bool(saved["streamed_current"])
            stream.buffers = {int(index): list(texts) for index, texts in saved["buffers"]}

    def flush(self, node_id: str) -> None:
        """The stream node itself runs: everything it shows is known now, so emit the rest."""
        stream = self._streams.get(node_id)
        if stream is None or stream.closed:
            return
        stream.open = True
        self._advance(stream, final=True)
        stream.closed = True

    def _decided(self, node_id: str) -> None:
        for stream_id in self._by_gate.get(node_id, ()):
            self._try_open(self._streams[stream_id])

    def _try_open(self, stream: _Stream) -> None:
        if stream.open or stream.closed:
            return
        if all(gate in self._finished or gate in self._skipped for gate in stream.plan.gates):
            stream.open = True
            self._advance(stream)

    def _resolved(self, stream: _Stream, selector: Selector) -> bool:
        source = selector[0]
        if source == "conversation":
            return all(w in self._finished or w in self._skipped for w in stream.plan.writers)
        if source not in self._graph.nodes:
            return True  # sys, env: known from the start
        return source in self._finished or source in self._skipped

    def _advance(self, stream: _Stream, *, final: bool = False) -> None:
        if not stream.open or stream.closed:
            return
        parts = stream.plan.parts
        while stream.cursor < len(parts):
            part = parts[stream.cursor]
            if isinstance(part, str):
                if not stream.plan.chunks_only:
                    self._emit(stream.plan.node_id, part, None)
            elif final or self._resolved(stream, part):
                buffered = stream.buffers.pop(stream.cursor, None)
                if buffered:
                    for text in buffered:
                        self._emit(stream.plan.node_id, text, part[:2])
                elif not stream.streamed_current and not stream.plan.chunks_only:
                    try:
                        value = self._lookup(part)
                    except LookupError:
                        value = None
                    text = to_text(value)
                    if text:
                        self._emit(stream.plan.node_id, text, part)
            else:
                buffered = stream.buffers.pop(stream.cursor, None)
                if buffered:
                    stream.streamed_current = True
                    for text in buffered:
                        self._emit(stream.plan.node_id, text, part[:2])
                return
            stream.cursor += 1
            stream.streamed_current = False
