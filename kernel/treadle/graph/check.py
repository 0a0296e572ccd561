"""Static checks of a compiled graph: references to variables that cannot exist when the node runs."""

from __future__ import annotations

from collections.abc import Collection

from treadle_sdk.templates import find_selectors

from .errors import Problem
from .graph import Graph
from .variables import CONVERSATION, ENVIRONMENT, SYSTEM

__all__ = ["SYSTEM_VARIABLES", "unresolved_references"]

#: The ``sys`` variables a run has (VAR-SYS-WORKFLOW, VAR-SYS-CHATFLOW).
SYSTEM_VARIABLES = frozenset(
    {
        "query",
        "files",
        "user_id",
        "app_id",
        "workflow_id",
        "workflow_run_id",
        "timestamp",
        "conversation_id",
        "dialogue_count",
    }
)


def _upstream(graph: Graph, node_id: str) -> set[str]:
    """Nodes that can have run before ``node_id``: its ancestors, those of its containers, and the
    containers themselves (children read ``[container, item]``)."""
    seen: set[str] = set()
    current: str | None = node_id
    while current is not None:
        stack = [edge.source for edge in graph.incoming[current]]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edge.source for edge in graph.incoming[node])
        container = graph.nodes[current].container
        if container is not None:
            seen.add(container)
            seen.update(graph.children.get(container, ()))  # loop variables and sibling outputs
        current = container
    return seen


def unresolved_references(
    graph: Graph, *, environment: Collection[str], conversation: Collection[str]
) -> list[Problem]:
    """Every variable reference that names no node, no environment or conversation variable, or no
    system variable, with the node id and where in its data; references to a node that does not run
    before the one reading it come back as warnings (VAR-SCOPE)."""
    problems = []
    for node_id, spec in graph.nodes.items():
        upstream: set[str] | None = None
        for selector in dict.fromkeys(find_selectors(dict(spec.data))):
            scope, name = selector[0], selector[1] if len(selector) > 1 else ""
            text = ".".join(selector)
            if scope == SYSTEM:
                if name not in SYSTEM_VARIABLES:
                    problems.append(Problem(f"{text}: there is no system variable {name!r}", node_id, "data"))
            elif scope == ENVIRONMENT:
                if name not in environment:
                    problems.append(Problem(f"{text}: there is no environment variable {name!r}", node_id, "data"))
            elif scope == CONVERSATION:
                if name not in conversation:
                    problems.append(Problem(f"{text}: there is no conversation variable {name!r}", node_id, "data"))
            elif scope not in graph.nodes:
                problems.append(Problem(f"{text}: there is no node {scope!r}", node_id, "data"))
            elif scope != node_id and scope not in graph.children.get(node_id, ()):
                if upstream is None:
                    upstream = _upstream(graph, node_id)
                if scope not in upstream:
                    # Dify runs such graphs, reading nothing there; say so, without failing the check.
                    problems.append(
                        Problem(
                            f"{text}: node {scope!r} does not run before this node, so this reads nothing",
                            node_id,
                            "data",
                            warning=True,
                        )
                    )
    return problems
