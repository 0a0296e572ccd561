"""A plugin with one tool that does nothing: the payload of the plugin-call benchmark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import CallContext, Tool, ToolProvider, hookimpl
from treadle_sdk.schemas import ToolParameter, ToolProviderSchema, ToolSchema
from treadle_sdk.tool_runtime import TextMessage


class NoopTool(Tool):
    schema = ToolSchema(
        name="noop",
        label="No-op",
        description="Returns its input unchanged.",
        parameters=[ToolParameter(name="text", type="string", label="Text")],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> TextMessage:
        return TextMessage(text=parameters.get("text", ""))


class NoopProvider(ToolProvider):
    blocking = False
    schema = ToolProviderSchema(name="bench-noop", label="Bench", description="Benchmark tools")
    tools = [NoopTool()]


class BlockingNoopProvider(NoopProvider):
    """The same tool, run the way plain plugin code runs by default: in a worker thread."""

    blocking = True
    schema = ToolProviderSchema(name="bench-noop-blocking", label="Bench", description="Benchmark tools")


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    register(NoopProvider())
    register(BlockingNoopProvider())
