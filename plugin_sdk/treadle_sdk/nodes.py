"""Writing workflow node types: the runtime the engine gives a node, and what a node gives back.

A :class:`~treadle_sdk.extensions.NodeType` turns one node's DSL ``data`` into a
:class:`PreparedNode` once, when the graph is compiled (so configuration errors surface before any
run, with the path inside the node's data). Each execution then calls ``PreparedNode.run(rt)``
with a :class:`NodeRuntime`: the node reads variables, renders templates, streams text, writes the
variables it may write, and (for containers) runs its children; it returns a :class:`NodeResult`.

``run`` may be a plain function or a coroutine. Control-flow nodes placed inline are called
directly by the engine; node types in a plugin host are run through the ``run`` operation with the
variables they read sent along (see :class:`WireRuntime`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .context import KernelClient
from .templates import Selector, find_selectors, parse_template, render_parts

__all__ = [
    "SOURCE_HANDLE",
    "ContainerRun",
    "NodeConfigError",
    "NodeResult",
    "NodeRunError",
    "NodeRuntime",
    "PreparedNode",
    "VariableNotFound",
    "WireRuntime",
]

#: The handle of a node's ordinary outgoing edges.
SOURCE_HANDLE = "source"


class NodeConfigError(ValueError):
    """A node's configuration is invalid; ``path`` locates the field inside the node's ``data``."""

    def __init__(self, message: str, path: str = "") -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class NodeRunError(Exception):
    """A node failed while running. ``error_type`` is what error strategies expose as ``error_type``."""

    error_type = "NodeRunError"

    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_type is not None:
            self.error_type = error_type


class VariableNotFound(NodeRunError, LookupError):
    """A selector names no variable that exists (yet) in the run."""

    error_type = "VariableNotFound"

    def __init__(self, selector: Sequence[str]) -> None:
        super().__init__(f"variable {'.'.join(selector)} does not exist")
        self.selector = tuple(selector)


@dataclass(slots=True)
class NodeResult:
    """What a node run produced: its outputs and, for branch nodes, the handle of the branch taken."""

    outputs: dict[str, Any] = field(default_factory=dict)
    handle: str = SOURCE_HANDLE
    #: What the node read and worked out, for run records (optional).
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None


class ContainerRun(abc.ABC):
    """One run of a container's children (an iteration item, a loop round), once it has ended."""

    #: True if a loop-end node ran (the loop must stop after this round).
    broke: bool = False

    @abc.abstractmethod
    def get(self, selector: Sequence[str]) -> Any:
        """A variable as the children left it (raises :class:`VariableNotFound`)."""


class NodeRuntime(abc.ABC):
    """What a running node may do. The engine provides it; node code never builds one.

    ``kernel`` calls back into the kernel (invoke a model or a tool, KV storage) on behalf of the
    run; it is None where the run has no way back (a bare engine in tests, say).
    """

    node_id: str
    kernel: KernelClient | None = None

    @abc.abstractmethod
    def get(self, selector: Sequence[str]) -> Any:
        """The value at ``selector`` (``[node_id, name, *path]``); raises :class:`VariableNotFound`."""

    def get_or(self, selector: Sequence[str], default: Any = None) -> Any:
        try:
            return self.get(selector)
        except VariableNotFound:
            return default

    def render(self, template: str) -> str:
        """``template`` with every ``{{#node.var#}}`` replaced by the variable's text; a variable
        that does not exist (a skipped branch's node, say) reads as nothing, as in Dify."""
        return render_parts(parse_template(template), self.get_or)

    @abc.abstractmethod
    def emit(self, variable: str, chunk: str) -> None:
        """Stream a piece of text of this node's output ``variable`` (LLM tokens, answers)."""

    def log(self, entry: Mapping[str, Any]) -> None:
        """Record one step of the node's own work for the run's trace (Dify's ``agent_log`` events):
        ``id``, ``label``, ``parent_id``, ``status`` (start / success / error), ``data``, ``metadata``
        and ``error``. An entry sent again with the same ``id`` updates it. Ignored where the run
        keeps no trace."""
        return None

    @abc.abstractmethod
    def assign(self, selector: Sequence[str], value: Any) -> None:
        """Write a writable variable: a conversation variable, or a loop variable inside a loop
        (VAR-IMMUTABILITY); anything else raises :class:`NodeRunError`."""

    async def run_children(self, variables: Mapping[str, Any]) -> ContainerRun:
        """Run this container node's children once, with ``variables`` (``item``, ``index``, loop
        variables) readable as ``[this node's id, name]``."""
        raise NodeRunError(f"node {self.node_id} is not a container")


class PreparedNode(abc.ABC):
    """One node, configured and checked; run as often as the graph reaches it."""

    #: The node's DSL ``data`` (as the engine passed it to ``prepare``).
    config: Mapping[str, Any]

    def selectors(self) -> list[Selector]:
        """The variables the node may read (by default every reference found in its config)."""
        return list(dict.fromkeys(find_selectors(self.config)))

    @abc.abstractmethod
    def run(self, rt: NodeRuntime) -> Any:
        """Run once; return (or, as a coroutine, resolve to) a :class:`NodeResult`."""


class WireRuntime(NodeRuntime):
    """The runtime of a node run in a plugin host: variables arrive with the call; chunks,
    assignments and log entries go back as they happen through ``on_event`` —
    ``("chunk", variable, text)``, ``("assign", selector, value)`` and ``("log", None, entry)`` — and
    are kept in ``chunks``, ``assignments`` and ``logs`` when there is none."""

    def __init__(
        self,
        node_id: str,
        variables: Mapping[Selector, Any],
        on_event: Callable[[tuple[str, Any, Any]], None] | None = None,
        kernel: KernelClient | None = None,
    ) -> None:
        self.node_id = node_id
        self.kernel = kernel
        self._variables = dict(variables)
        self._on_event = on_event
        self.chunks: list[tuple[str, str]] = []
        self.assignments: list[tuple[Selector, Any]] = []
        self.logs: list[dict[str, Any]] = []

    def get(self, selector: Sequence[str]) -> Any:
        key = tuple(selector)
        for cut in range(len(key), 1, -1):
            if key[:cut] in self._variables:
                value = self._variables[key[:cut]]
                for part in key[cut:]:
                    value = _step(value, part, key)
                return value
        raise VariableNotFound(key)

    def emit(self, variable: str, chunk: str) -> None:
        if self._on_event is None:
            self.chunks.append((variable, chunk))
        else:
            self._on_event(("chunk", variable, chunk))

    def assign(self, selector: Sequence[str], value: Any) -> None:
        if self._on_event is None:
            self.assignments.append((tuple(selector), value))
        else:
            self._on_event(("assign", tuple(selector), value))

    def log(self, entry: Mapping[str, Any]) -> None:
        if self._on_event is None:
            self.logs.append(dict(entry))
        else:
            self._on_event(("log", None, dict(entry)))


def _step(value: Any, part: str, selector: Selector) -> Any:
    """One step of a nested path: a key of an object, or an index of an array."""
    if isinstance(value, Mapping):
        if part in value:
            return value[part]
    elif isinstance(value, list) and part.lstrip("-").isdigit():
        index = int(part)
        if -len(value) <= index < len(value):
            return value[index]
    raise VariableNotFound(selector)
