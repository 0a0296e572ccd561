"""A tool provider for the tool node tests: ``story`` sends one message of every kind a tool may send,
and ``flaky`` fails in the tool's own code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from treadle_sdk import CallContext, Tool, ToolProvider, hookimpl
from treadle_sdk.schemas import ToolParameter, ToolParameterType, ToolProviderSchema, ToolSchema
from treadle_sdk.tool_runtime import (
    BlobMessage,
    ImageMessage,
    JsonMessage,
    LinkMessage,
    LogMessage,
    TextMessage,
    ToolMessage,
    VariableMessage,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(16))


class StoryTool(Tool):
    schema = ToolSchema(
        name="story",
        label="Story",
        description="Tells a story in every kind of message.",
        parameters=[
            ToolParameter(name="hero", type=ToolParameterType.STRING, label="Hero", required=True),
            ToolParameter(name="chapters", type=ToolParameterType.NUMBER, label="Chapters", default=2, min=1, max=5),
            ToolParameter(name="loud", type=ToolParameterType.BOOLEAN, label="Loud", default=False),
        ],
    )

    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> Iterator[ToolMessage]:
        hero = parameters["hero"].upper() if parameters["loud"] else parameters["hero"]
        yield TextMessage(text=f"Once upon a time, {hero}. ")
        yield LogMessage(label="thinking about the plot", data={"hero": hero})
        for chapter in range(1, parameters["chapters"] + 1):
            yield VariableMessage(name="tale", value=f"chapter {chapter}; ", stream=True)
        yield VariableMessage(name="moral", value={"lesson": "be kind", "chapters": parameters["chapters"]})
        yield JsonMessage(json_object={"hero": hero})
        yield JsonMessage(json_object=[1, 2])
        yield LinkMessage(link="https://example.com/story")
        yield ImageMessage(url="https://example.com/pictures/cover.png")
        yield BlobMessage.of(PNG, "image/png", "map.png")
        yield TextMessage(text="The end.")


class FlakyTool(Tool):
    schema = ToolSchema(name="flaky", label="Flaky", description="Always breaks.")

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[ToolMessage]:
        raise RuntimeError("the flux capacitor is out of order")


class StoryProvider(ToolProvider):
    blocking = False
    schema = ToolProviderSchema(name="stories", label="Stories", description="Tools for the tool node tests.")

    def __init__(self) -> None:
        self.tools = [StoryTool(), FlakyTool()]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    register(StoryProvider())
