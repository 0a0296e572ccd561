"""The errors of the MCP client tools, with the ``error_type`` names Dify gives the same failures.

Each is a :class:`~treadle_sdk.errors.PluginFailed` whose ``details["error_type"]`` carries the name
across the process boundary, so the kernel, a tool node or an agent can tell a refused destination
from a server that failed without reading messages.
"""

from __future__ import annotations

from typing import Any

from treadle_sdk.errors import PluginFailed

__all__ = ["McpAuthorizationRequired", "McpToolError", "McpToolRefused"]


class McpToolError(PluginFailed):
    """The MCP server could not be reached, did not speak MCP, answered a protocol error, or the tool
    reported an error (``isError``); the message names the server URL and, for a call, the tool."""

    error_type = "ToolInvokeError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"error_type": self.error_type, **(details or {})})


class McpToolRefused(McpToolError):
    """The SSRF guard refused the server's address (loopback, private, link-local or metadata, and not
    allowed by the operator's ``TREADLE_SSRF_ALLOW``)."""

    error_type = "ToolRequestRefused"


class McpAuthorizationRequired(McpToolError):
    """The MCP server answered 401: it wants an OAuth access token (none was sent, or the one sent
    expired or was revoked), or its authorization server refused to refresh one. ``error_type`` is
    Dify's name for the same failure; the kernel then keeps the server as needing authorization."""

    error_type = "MCPAuthError"
