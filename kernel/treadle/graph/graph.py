"""The compiled graph: nodes, edges indexed by source handle, containers and their roots.

Compiled once from the DSL's ``workflow.graph`` and never changed, so many runs share one graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from treadle_sdk.nodes import SOURCE_HANDLE

from .errors import GraphBuildError, Problem

__all__ = ["FAIL_BRANCH", "START_TYPES", "Edge", "Graph", "NodeSpec", "RetryPolicy", "build_graph"]

#: Node types that begin a top-level flow.
START_TYPES = frozenset({"start", "trigger-schedule", "trigger-webhook", "trigger-plugin", "datasource"})
#: Node types that begin a container's sub-graph.
CONTAINER_START_TYPES = frozenset({"iteration-start", "loop-start"})
#: The handle of the edge taken when a node with the fail-branch strategy fails (EXEC-ERROR-STRATEGY).
FAIL_BRANCH = "fail-branch"
#: The retry limits Dify documents (EXEC-RETRY).
MAX_RETRIES = 10
MAX_RETRY_INTERVAL_MS = 5000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int
    interval: float  # seconds


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node as the engine sees it. ``data`` is the node's DSL ``data``, read-only."""

    id: str
    type: str
    title: str
    data: Mapping[str, Any]
    container: str | None = None
    error_strategy: str | None = None
    default_values: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    id: str
    source: str
    target: str
    handle: str = SOURCE_HANDLE


@dataclass(frozen=True)
class Graph:
    """The immutable compiled graph."""

    nodes: Mapping[str, NodeSpec]
    edges: tuple[Edge, ...]
    outgoing: Mapping[str, tuple[Edge, ...]]
    incoming: Mapping[str, tuple[Edge, ...]]
    #: The start node of each scope: ``None`` for the top level, else the container node's id.
    roots: Mapping[str | None, tuple[str, ...]]
    #: The nodes inside each container.
    children: Mapping[str, tuple[str, ...]]

    def scope_of(self, node_id: str) -> str | None:
        return self.nodes[node_id].container


def _node_path(index: int) -> str:
    return f"workflow.graph.nodes[{index}]"


def _retry(data: Mapping[str, Any], node_id: str, path: str, problems: list[Problem]) -> RetryPolicy | None:
    config = data.get("retry_config")
    if not isinstance(config, Mapping) or not config.get("retry_enabled"):
        return None
    try:
        retries = int(config.get("max_retries", 0))
        interval_ms = float(config.get("retry_interval", 0))
    except (TypeError, ValueError):
        problems.append(Problem("retry_config needs whole numbers", node_id, f"{path}.data.retry_config"))
        return None
    if not 0 <= retries <= MAX_RETRIES or not 0 <= interval_ms <= MAX_RETRY_INTERVAL_MS:
        problems.append(
            Problem(
                f"retries must be 0..{MAX_RETRIES} and the interval 0..{MAX_RETRY_INTERVAL_MS} ms "
                f"(got {retries}, {interval_ms:g} ms)",
                node_id,
                f"{path}.data.retry_config",
            )
        )
        return None
    return RetryPolicy(retries, interval_ms / 1000) if retries else None


def _default_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = data.get("default_value") or []
    return {item["key"]: item.get("value") for item in values if isinstance(item, Mapping) and "key" in item}


def build_graph(nodes: Iterable[Mapping[str, Any]], edges: Iterable[Mapping[str, Any]]) -> Graph:
    """Compile DSL nodes (``{id, data: {type, title, ...}, parentId?}``) and edges
    (``{id, source, target, sourceHandle}``); raise :class:`GraphBuildError` with every problem."""
    problems: list[Problem] = []
    specs: dict[str, NodeSpec] = {}
    for index, raw in enumerate(nodes):
        path = _node_path(index)
        node_id = str(raw.get("id", ""))
        data = raw.get("data")
        if not node_id or not isinstance(data, Mapping):
            problems.append(Problem("a node needs an id and a data mapping", node_id, path))
            continue
        if node_id in specs:
            problems.append(Problem("another node has the same id", node_id, f"{path}.id"))
            continue
        node_type = data.get("type")
        if not isinstance(node_type, str) or not node_type:
            problems.append(Problem("the node has no type", node_id, f"{path}.data.type"))
            continue
        container = data.get("iteration_id") or data.get("loop_id") or raw.get("parentId") or None
        strategy = data.get("error_strategy") or None
        if strategy not in (None, "fail-branch", "default-value"):
            problems.append(Problem(f"unknown error_strategy {strategy!r}", node_id, f"{path}.data.error_strategy"))
            strategy = None
        timeout = data.get("timeout") if isinstance(data.get("timeout"), int | float) else None
        specs[node_id] = NodeSpec(
            id=node_id,
            type=node_type,
            title=str(data.get("title", "")),
            data=MappingProxyType(dict(data)),
            container=str(container) if container else None,
            error_strategy=strategy,
            default_values=MappingProxyType(_default_values(data)),
            retry=_retry(data, node_id, path, problems),
            timeout=timeout,
        )

    built_edges: list[Edge] = []
    seen_edges: set[tuple[str, str, str]] = set()
    for index, raw in enumerate(edges):
        path = f"workflow.graph.edges[{index}]"
        source, target = str(raw.get("source", "")), str(raw.get("target", ""))
        handle = str(raw.get("sourceHandle") or SOURCE_HANDLE)
        for end, name in ((source, "source"), (target, "target")):
            if end not in specs:
                problems.append(Problem(f"the edge's {name} {end!r} is not a node", "", f"{path}.{name}"))
        if source not in specs or target not in specs:
            continue
        if specs[source].container != specs[target].container:
            problems.append(
                Problem(f"the edge joins {source} and {target}, which are in different containers", "", path)
            )
            continue
        if (source, target, handle) in seen_edges:
            continue  # the editor sometimes saves an edge twice
        seen_edges.add((source, target, handle))
        built_edges.append(Edge(str(raw.get("id") or f"{source}-{handle}-{target}"), source, target, handle))

    outgoing: dict[str, list[Edge]] = {node_id: [] for node_id in specs}
    incoming: dict[str, list[Edge]] = {node_id: [] for node_id in specs}
    for edge in built_edges:
        outgoing[edge.source].append(edge)
        incoming[edge.target].append(edge)

    children: dict[str, list[str]] = {}
    for spec in specs.values():
        if spec.container is not None:
            if spec.container not in specs:
                problems.append(Problem(f"its container {spec.container!r} is not a node", spec.id))
                continue
            children.setdefault(spec.container, []).append(spec.id)

    roots: dict[str | None, tuple[str, ...]] = {}
    top = tuple(n for n, s in specs.items() if s.container is None and s.type in START_TYPES)
    if specs and not top:
        problems.append(Problem("the graph has no start node (start or a trigger)", "", "workflow.graph.nodes"))
    roots[None] = top
    for container_id, members in children.items():
        declared = specs[container_id].data.get("start_node_id")
        start = [m for m in members if m == declared] or [m for m in members if specs[m].type in CONTAINER_START_TYPES]
        if not start:
            start = [m for m in members if not incoming[m]]
        if not start:
            problems.append(Problem("the container has no start node", container_id))
            continue
        roots[container_id] = (start[0],)

    if problems:
        raise GraphBuildError(problems)
    return Graph(
        nodes=MappingProxyType(specs),
        edges=tuple(built_edges),
        outgoing=MappingProxyType({k: tuple(v) for k, v in outgoing.items()}),
        incoming=MappingProxyType({k: tuple(v) for k, v in incoming.items()}),
        roots=MappingProxyType(roots),
        children=MappingProxyType({k: tuple(v) for k, v in children.items()}),
    )
