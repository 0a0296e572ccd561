"""Apps as MCP servers (PUB-MCP-SERVER): the tool an app becomes, the streamable HTTP endpoint, and
the stdio bridge desktop clients start (``treadle mcp stdio``)."""

from .server import SERVER_NAME, McpEndpoint, build_server
from .tool import AppTarget, call_app_tool, describe_app_tool, tool_name

__all__ = ["SERVER_NAME", "AppTarget", "McpEndpoint", "build_server", "call_app_tool", "describe_app_tool", "tool_name"]
