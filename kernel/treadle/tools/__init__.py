"""The path of every tool call: plugin tools, custom OpenAPI tools, MCP tools, workflow tools."""

from .api_request import ApiToolCredentials, build_request
from .api_store import ApiToolProvider, ApiToolStore, MemoryApiToolStore, SQLiteApiToolStore
from .api_tools import REQUEST_PROVIDER, REQUEST_TOOL, ApiTools
from .credentials import WorkspaceToolCredentials
from .errors import McpAuthorizationError, McpServerError, OpenAPISpecError, ToolInvokeError
from .manager import PluginTools, ToolCredentialSource, ToolManager, ToolSource
from .mcp_store import McpOAuth, McpServer, McpServerStore, McpToolSettings, MemoryMcpServerStore, SQLiteMcpServerStore
from .mcp_tools import SERVER_ID_PATTERN, McpTools, tool_schema
from .openapi import ApiOperation, ApiParameter, ApiSpec, parse_api_spec
from .workflow_tools import RunHost, WorkflowTool, WorkflowTools, workflow_level

__all__ = [
    "REQUEST_PROVIDER",
    "REQUEST_TOOL",
    "SERVER_ID_PATTERN",
    "ApiOperation",
    "ApiParameter",
    "ApiSpec",
    "ApiToolCredentials",
    "ApiToolProvider",
    "ApiToolStore",
    "ApiTools",
    "McpAuthorizationError",
    "McpOAuth",
    "McpServer",
    "McpServerError",
    "McpServerStore",
    "McpToolSettings",
    "McpTools",
    "MemoryApiToolStore",
    "MemoryMcpServerStore",
    "OpenAPISpecError",
    "PluginTools",
    "RunHost",
    "SQLiteApiToolStore",
    "SQLiteMcpServerStore",
    "ToolCredentialSource",
    "ToolInvokeError",
    "ToolManager",
    "ToolSource",
    "WorkflowTool",
    "WorkflowTools",
    "WorkspaceToolCredentials",
    "build_request",
    "parse_api_spec",
    "tool_schema",
    "workflow_level",
]
