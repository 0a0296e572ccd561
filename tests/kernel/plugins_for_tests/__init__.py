"""Throwaway plugins for the kernel tests, loaded by import path inline or in a host process.

The providers here override ``invoke_tool`` and pick their behaviour by the tool name, so that a test
controls exactly how the plugin code runs (worker thread, on the loop, coroutine, async generator).
Their ``tools`` only declare the names, as every tool provider must.
"""

from __future__ import annotations

from typing import Any

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginUnimplemented
from treadle_sdk.extensions import Tool
from treadle_sdk.schemas import ToolProviderSchema, ToolSchema

__all__ = ["DeclaredTool", "declared_tools", "provider_schema"]


def provider_schema(name: str) -> ToolProviderSchema:
    return ToolProviderSchema(name=name, author="tests", label=name, description=f"test provider {name}")


class DeclaredTool(Tool):
    """A tool known only by name: its provider's own ``invoke_tool`` serves it."""

    def __init__(self, name: str) -> None:
        self.schema = ToolSchema(name=name, label=name, description=f"test tool {name}")

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        raise PluginUnimplemented(f"tool {self.schema.name!r} is served by its provider's invoke_tool")


def declared_tools(*names: str) -> list[Tool]:
    return [DeclaredTool(name) for name in names]
