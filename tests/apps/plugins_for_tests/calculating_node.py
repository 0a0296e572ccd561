"""A node type that asks the kernel to run a tool: the way llm-family nodes reach model providers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import NodeType, hookimpl
from treadle_sdk.nodes import NodeResult, NodeRunError, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema


class Calculate(PreparedNode):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    async def run(self, rt: NodeRuntime) -> NodeResult:
        if rt.kernel is None:
            raise NodeRunError("no way back into the kernel")
        expression = rt.render(self.config["expression"])
        messages = await rt.kernel.ainvoke_tool("maths", "eval_expression", {"expression": expression})
        texts = [m["text"] for m in messages if m.get("type") == "text"]
        return NodeResult({"result": texts[0]})


class CalculateNodeType(NodeType):
    schema = NodeTypeSchema(name="calculate", label="Calculate")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return Calculate(config)


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    register(CalculateNodeType())
