"""A plugin with one node type that does nothing: the payload of the engine benchmark.

``trivial`` reads no variable and outputs ``{"value": 1}``. The benchmark places this plugin inline
(the default placement of control-flow nodes) or in a plugin host process, so its cost per node is
the engine's cost plus, out of process, one ``run`` call over the host's socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import NodeType, hookimpl
from treadle_sdk.nodes import NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema


class PreparedTrivial(PreparedNode):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def run(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult(outputs={"value": 1})


class Trivial(NodeType):
    """The ``trivial`` node type."""

    blocking = False

    schema = NodeTypeSchema(name="trivial", label="Trivial", description="Outputs value = 1.")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return PreparedTrivial(config)


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    register(Trivial())
