"""A node type that calls a tool of any provider type through the kernel client, the way tool and
agent nodes do: ``provider``, ``tool``, ``provider_type`` and ``parameters`` (text templates)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import NodeType, hookimpl
from treadle_sdk.nodes import NodeResult, NodeRunError, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema


class CallTool(PreparedNode):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    async def run(self, rt: NodeRuntime) -> NodeResult:
        if rt.kernel is None:
            raise NodeRunError("no way back into the kernel")
        parameters = {name: rt.render(value) for name, value in self.config.get("parameters", {}).items()}
        messages = await rt.kernel.ainvoke_tool(
            self.config["provider"],
            self.config["tool"],
            parameters,
            provider_type=self.config.get("provider_type", "builtin"),
        )
        texts = [m["text"] for m in messages if m.get("type") == "text"]
        objects = [m["json_object"] for m in messages if m.get("type") == "json"]
        return NodeResult({"text": "".join(texts), "json": objects[0] if objects else None})


class CallToolNodeType(NodeType):
    schema = NodeTypeSchema(name="call-tool", label="Call a tool")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return CallTool(config)


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    register(CallToolNodeType())
