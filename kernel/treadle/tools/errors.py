"""Errors of the tool kinds the kernel serves itself (custom OpenAPI tools, MCP tools, workflow tools).

:class:`OpenAPISpecError` is an import-time error (a bad document), raised to whoever imports it;
:class:`McpServerError` the same for an MCP server's settings.
:class:`ToolInvokeError` is a call-time error; it is a :class:`~treadle_sdk.errors.PluginFailed` so
that it crosses back to the plugin or node that called the tool with its ``details["error_type"]``
(``ToolInvokeError``, Dify's name), as the request tool's own errors do; :class:`McpAuthorizationError`
likewise, for an MCP server that needs signing in to again.
"""

from __future__ import annotations

from typing import Any

from treadle_sdk.errors import PluginFailed

__all__ = ["McpAuthorizationError", "McpServerError", "OpenAPISpecError", "ToolInvokeError"]


class OpenAPISpecError(ValueError):
    """An OpenAPI (or Swagger) document cannot become tools. ``path`` says where in the document,
    written as ``paths["/pets/{id}"].get.parameters[0].schema`` (``(document)`` for the whole)."""

    def __init__(self, message: str, path: str = "(document)") -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}")


class McpServerError(ValueError):
    """An MCP server of a workspace cannot be added, changed or listed as asked: a bad Server ID,
    name, URL or header, a Server ID or name the workspace already has, or a server that could not be
    reached or listed. ``field`` names the setting at fault (``server_identifier``, ``server_url`` ...)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        self.message = message
        self.field = field
        super().__init__(message)


class ToolInvokeError(PluginFailed):
    """A tool of the workspace failed while running (a workflow tool's run failed, or it would nest
    workflows too deeply)."""

    error_type = "ToolInvokeError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"error_type": self.error_type, **(details or {})})


class McpAuthorizationError(PluginFailed):
    """An MCP server of the workspace needs authorization (OAuth) before its tools can be listed or
    called: it answered 401 and no refresh helped, or its authorization server refused the refresh
    token. ``details["error_type"]`` is ``MCPAuthError`` (Dify's name), ``details["provider"]`` the
    Server ID; the message says how to authorize it again."""

    error_type = "MCPAuthError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"error_type": self.error_type, **(details or {})})
