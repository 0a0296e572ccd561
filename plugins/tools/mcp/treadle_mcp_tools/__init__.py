"""The MCP side of MCP client tools (WS-MCP-CLIENT): the ``mcp_client`` provider, whose ``list_tools``
and ``call_tool`` tools connect to a workspace's MCP servers over streamable HTTP or SSE.

The kernel keeps the servers (``treadle.tools.mcp_tools``) and calls this provider for every listing
and every call, so outbound connections happen in a plugin host behind the SSRF guard, never in the
kernel.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .connection import TRANSPORTS, ServerTarget, connected
from .errors import McpToolError, McpToolRefused
from .provider import CallTool, ListTools, McpClientProvider, result_messages

__all__ = [
    "TRANSPORTS",
    "CallTool",
    "ListTools",
    "McpClientProvider",
    "McpToolError",
    "McpToolRefused",
    "ServerTarget",
    "connected",
    "register_tools",
    "result_messages",
]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``mcp_client`` provider, guarded by the operator's ``TREADLE_SSRF_ALLOW``."""
    register(McpClientProvider())
