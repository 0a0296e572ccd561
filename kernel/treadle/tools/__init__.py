"""The path of every tool call: plugin tools, custom OpenAPI tools, workflow tools."""

from .manager import PluginTools, ToolCredentialSource, ToolManager, ToolSource

__all__ = ["PluginTools", "ToolCredentialSource", "ToolManager", "ToolSource"]
