"""Helpers of the core node tests: node types prepared through the plugin's registration, and a
small in-memory :class:`NodeRuntime` (variables in a dict, emits and assignments recorded,
container children run as a Python callable). The real engine is tested elsewhere."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import treadle_core_nodes
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import ContainerRun, NodeResult, NodeRunError, NodeRuntime, PreparedNode, VariableNotFound
from treadle_sdk.registry import Registry
from treadle_sdk.testing import load

Selector = tuple[str, ...]


@functools.cache
def _registry() -> Registry:
    return load(treadle_core_nodes)


#: Every DSL node type the core-nodes plugin registers.
CORE_TYPES = frozenset(
    {
        "start",
        "end",
        "answer",
        "if-else",
        "template-transform",
        "variable-aggregator",
        "variable-assigner",
        "assigner",
        "list-operator",
        "iteration",
        "iteration-start",
        "loop",
        "loop-start",
        "loop-end",
    }
)


def node_type(name: str) -> NodeType:
    """The registered node type ``name`` (loaded through the plugin's hook, as the kernel loads it)."""
    entry = _registry().extensions.get("node_type", name)
    assert entry is not None, f"no node type {name!r}"
    assert isinstance(entry.extension, NodeType)
    return entry.extension


def prepare(name: str, data: Mapping[str, Any], node_id: str = "node") -> PreparedNode:
    """A node of type ``name`` prepared from DSL ``data`` (``type`` is filled in)."""
    return node_type(name).prepare(node_id, {"type": name, **data})


async def run(node: PreparedNode, rt: NodeRuntime) -> NodeResult:
    """Run a node, awaiting it if its run is a coroutine."""
    result = node.run(rt)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, NodeResult)
    return result


def _key(selector: str | Sequence[str]) -> Selector:
    return tuple(selector.split(".")) if isinstance(selector, str) else tuple(selector)


def _walk(value: Any, path: Selector, selector: Selector) -> Any:
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise VariableNotFound(selector)
    return value


def _lookup(variables: Mapping[Selector, Any], selector: Selector) -> Any:
    for cut in range(len(selector), 1, -1):
        if selector[:cut] in variables:
            return _walk(variables[selector[:cut]], selector[cut:], selector)
    raise VariableNotFound(selector)


@dataclass
class Round:
    """What one run of a container's children left: the variables they set (``"node.var"`` keys
    or selectors) and whether a Loop End node ran."""

    values: Mapping[Any, Any] = field(default_factory=dict)
    broke: bool = False


#: Stands in for a container's children: called with the variables of the run (the very dict the
#: container passed, so a loop's children can change loop variables), returns a Round, a dict of
#: values, or None; may be async; raises NodeRunError to fail the run.
Children = Callable[[dict[str, Any]], Round | Mapping[Any, Any] | Awaitable[Round | Mapping[Any, Any] | None] | None]


class MemoryContainerRun(ContainerRun):
    def __init__(self, runtime: MemoryRuntime, scope: Mapping[str, Any], values: dict[Selector, Any], broke: bool):
        self._runtime = runtime
        self._scope = scope
        self._values = values
        self.broke = broke

    def get(self, selector: Sequence[str]) -> Any:
        key = tuple(selector)
        try:
            return _lookup(self._values, key)
        except VariableNotFound:
            pass
        if key[0] == self._runtime.node_id and key[1] in self._scope:
            return _walk(self._scope[key[1]], key[2:], key)
        return self._runtime.get(key)


class MemoryRuntime(NodeRuntime):
    """A NodeRuntime over a dict of variables (keys ``"node.var"`` or selectors)."""

    def __init__(
        self,
        variables: Mapping[Any, Any] | None = None,
        *,
        node_id: str = "node",
        children: Children | None = None,
        writable: Sequence[str] = ("conversation",),
    ) -> None:
        self.node_id = node_id
        self.variables: dict[Selector, Any] = {_key(k): v for k, v in (variables or {}).items()}
        self.emitted: list[tuple[str, str]] = []
        self.assigned: list[tuple[Selector, Any]] = []
        self.children = children
        self.writable = set(writable)
        #: The variables each run of the children was given (copied when the run started).
        self.child_runs: list[dict[str, Any]] = []

    def get(self, selector: Sequence[str]) -> Any:
        return _lookup(self.variables, tuple(selector))

    def emit(self, variable: str, chunk: str) -> None:
        self.emitted.append((variable, chunk))

    def assign(self, selector: Sequence[str], value: Any) -> None:
        key = tuple(selector)
        if len(key) != 2 or key[0] not in self.writable:
            raise NodeRunError(f"{'.'.join(key)} cannot be assigned", error_type="VariableNotWritable")
        self.assigned.append((key, value))
        self.variables[key] = value

    async def run_children(self, variables: Mapping[str, Any]) -> ContainerRun:
        assert self.children is not None, "this runtime has no children"
        assert isinstance(variables, dict)
        self.child_runs.append(dict(variables))
        outcome = self.children(variables)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome is None:
            outcome = Round()
        elif not isinstance(outcome, Round):
            outcome = Round(outcome)
        return MemoryContainerRun(self, variables, {_key(k): v for k, v in outcome.values.items()}, outcome.broke)


def image(name: str = "cat.png", **extra: Any) -> dict[str, Any]:
    """A file variable of an image, in Dify's file shape."""
    return {
        "dify_model_identity": "__dify__file__",
        "type": "image",
        "transfer_method": "local_file",
        "related_id": "f-" + name,
        "filename": name,
        "extension": "." + name.rsplit(".", 1)[-1],
        "mime_type": "image/png",
        "size": 1000,
        "url": f"https://files.example/{name}",
        **extra,
    }


def document(name: str = "report.pdf", **extra: Any) -> dict[str, Any]:
    """A file variable of a document, given by URL."""
    return {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "remote_url",
        "remote_url": f"https://example.com/{name}",
        "filename": name,
        "extension": "." + name.rsplit(".", 1)[-1],
        "mime_type": "application/pdf",
        "size": 5000,
        **extra,
    }
