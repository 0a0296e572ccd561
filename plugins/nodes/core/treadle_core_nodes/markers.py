"""The nodes that mark places in a container's sub-graph: Iteration Start and Loop Start (where
each run of the children begins) and Loop End (NODE-EXIT-LOOP: reaching it ends the loop after the
current round; the engine sees it ran and reports ``ContainerRun.broke``). They do nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema

__all__ = ["MARKER_TYPES", "MarkerNode", "MarkerNodeType"]

#: The marker node types: their DSL type, label and description.
MARKER_TYPES: dict[str, tuple[str, str]] = {
    "iteration-start": ("Iteration Start", "Where each run of an Iteration's sub-graph begins."),
    "loop-start": ("Loop Start", "Where each round of a Loop's sub-graph begins."),
    "loop-end": ("Exit Loop", "Ends the enclosing Loop after the current round."),
}


class MarkerNode(PreparedNode):
    """A prepared marker node: it succeeds with no outputs."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config

    def selectors(self) -> list[tuple[str, ...]]:
        return []

    def run(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult()


class MarkerNodeType(NodeType):
    """One marker node type (``iteration-start``, ``loop-start`` or ``loop-end``)."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    def __init__(self, name: str) -> None:
        label, description = MARKER_TYPES[name]
        self.schema = NodeTypeSchema(name=name, label=label, description=description)

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return MarkerNode(node_id, config)
