"""Two plugins that both register a tool provider named ``shared``.

:data:`FIRST` also registers ``first_only`` and :data:`SECOND` ``second_only``; the ``who`` tool of
each answers with the plugin's name, so a test can tell which one a call reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import CallContext, ToolProvider, hookimpl
from treadle_sdk.tool_runtime import InvokeToolArgs, TextMessage

from . import declared_tools, provider_schema


class WhoProvider(ToolProvider):
    blocking = False

    def __init__(self, name: str, owner: str) -> None:
        self.schema = provider_schema(name)
        self.tools = declared_tools("who")
        self.owner = owner

    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> list[Any]:  # type: ignore[override]
        return [TextMessage(text=self.owner)]


class CollidingPlugin:
    def __init__(self, owner: str) -> None:
        self.owner = owner

    @hookimpl
    def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
        register(WhoProvider("shared", self.owner))
        register(WhoProvider(f"{self.owner}_only", self.owner))


FIRST = CollidingPlugin("first")
SECOND = CollidingPlugin("second")
