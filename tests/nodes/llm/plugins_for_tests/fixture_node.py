"""A node type for the tests, ``fixture``: outputs its ``outputs`` object as it is (a knowledge
retrieval result, files ...), so tests can hand the nodes under test any value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import NodeType, hookimpl
from treadle_sdk.nodes import NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema


class Fixture(PreparedNode):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def run(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult(dict(self.config.get("outputs") or {}))


class FixtureNodeType(NodeType):
    blocking = False
    schema = NodeTypeSchema(name="fixture", label="Fixture")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return Fixture(config)


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    register(FixtureNodeType())
