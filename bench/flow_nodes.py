"""Stand-ins for the ``start`` and ``end`` node types, for the engine benchmark while the
first-party core-nodes plugin does not register them yet.

They take Dify's node data (``start.variables``, ``end.outputs``) and do the least the real ones
do: start outputs nothing (the benchmark runs without inputs), end reads each of its
``outputs[].value_selector`` and outputs it under ``outputs[].variable``. bench/engine.py uses the
core-nodes plugin's own start and end instead as soon as it registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import NodeType, hookimpl
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema


class PreparedStart(PreparedNode):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def run(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult(outputs={})


class PreparedEnd(PreparedNode):
    def __init__(self, config: dict[str, Any], outputs: list[tuple[str, tuple[str, ...]]]) -> None:
        self.config = config
        self.outputs = outputs

    def run(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult(outputs={name: rt.get_or(selector) for name, selector in self.outputs})


class Start(NodeType):
    """A start node without input variables."""

    schema = NodeTypeSchema(name="start", label="Start (bench stand-in)")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        if config.get("variables"):
            raise NodeConfigError("the benchmark's start stand-in takes no input variables", "variables")
        return PreparedStart(config)


class End(NodeType):
    """An end node: its outputs are the variables its ``outputs`` name."""

    schema = NodeTypeSchema(name="end", label="End (bench stand-in)")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        outputs = []
        for index, item in enumerate(config.get("outputs") or []):
            selector = item.get("value_selector") if isinstance(item, dict) else None
            if not isinstance(selector, list) or len(selector) < 2 or not item.get("variable"):
                raise NodeConfigError("an output needs a variable and a value_selector", f"outputs.{index}")
            outputs.append((str(item["variable"]), tuple(map(str, selector))))
        return PreparedEnd(config, outputs)


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    register(Start())
    register(End())
