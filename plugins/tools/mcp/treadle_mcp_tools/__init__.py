"""The MCP side of MCP client tools (WS-MCP-CLIENT): the ``mcp_client`` provider, whose ``list_tools``
and ``call_tool`` tools connect to a workspace's MCP servers over streamable HTTP or SSE, and whose
``oauth_authorize`` and ``oauth_token`` sign in to the servers that want OAuth.

The kernel keeps the servers (``treadle.tools.mcp_tools``) and calls this provider for every listing
and every call, so outbound connections happen in a plugin host behind the SSRF guard, never in the
kernel.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .connection import TRANSPORTS, ServerTarget, connected
from .errors import McpAuthorizationRequired, McpToolError, McpToolRefused
from .oauth import begin_authorization, request_tokens
from .provider import CallTool, ListTools, McpClientProvider, OAuthAuthorize, OAuthTokenRequest, result_messages

__all__ = [
    "TRANSPORTS",
    "CallTool",
    "ListTools",
    "McpAuthorizationRequired",
    "McpClientProvider",
    "McpToolError",
    "McpToolRefused",
    "OAuthAuthorize",
    "OAuthTokenRequest",
    "ServerTarget",
    "begin_authorization",
    "connected",
    "register_tools",
    "request_tokens",
    "result_messages",
]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``mcp_client`` provider, guarded by the operator's ``TREADLE_SSRF_ALLOW``."""
    register(McpClientProvider())
