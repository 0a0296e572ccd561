"""A node type ``ask`` that sends its rendered ``prompt`` to its ``model`` through the kernel, as the
llm-family nodes do, and outputs the answer as ``text``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import NodeType, hookimpl
from treadle_sdk.llm import ModelConfig, call_llm
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole
from treadle_sdk.nodes import NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema


class Ask(PreparedNode):
    def __init__(self, config: dict[str, Any]) -> None:
        self.model = ModelConfig.parse(config.get("model"))
        self.prompt = str(config.get("prompt", ""))

    async def run(self, rt: NodeRuntime) -> NodeResult:
        message = PromptMessage(role=PromptMessageRole.USER, content=rt.render(self.prompt))
        answer = await call_llm(rt, self.model, [message])
        return NodeResult({"text": answer.text})


class AskNodeType(NodeType):
    schema = NodeTypeSchema(name="ask", label="Ask a model")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return Ask(config)


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    register(AskNodeType())
