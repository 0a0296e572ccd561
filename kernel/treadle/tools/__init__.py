"""The path of every tool call: plugin tools, custom OpenAPI tools, workflow tools."""

from .api_request import ApiToolCredentials, build_request
from .api_store import ApiToolProvider, ApiToolStore, MemoryApiToolStore, SQLiteApiToolStore
from .api_tools import REQUEST_PROVIDER, REQUEST_TOOL, ApiTools
from .credentials import WorkspaceToolCredentials
from .errors import OpenAPISpecError, ToolInvokeError
from .manager import PluginTools, ToolCredentialSource, ToolManager, ToolSource
from .openapi import ApiOperation, ApiParameter, ApiSpec, parse_api_spec
from .workflow_tools import RunHost, WorkflowTool, WorkflowTools, workflow_level

__all__ = [
    "REQUEST_PROVIDER",
    "REQUEST_TOOL",
    "ApiOperation",
    "ApiParameter",
    "ApiSpec",
    "ApiToolCredentials",
    "ApiToolProvider",
    "ApiToolStore",
    "ApiTools",
    "MemoryApiToolStore",
    "OpenAPISpecError",
    "PluginTools",
    "RunHost",
    "SQLiteApiToolStore",
    "ToolCredentialSource",
    "ToolInvokeError",
    "ToolManager",
    "ToolSource",
    "WorkflowTool",
    "WorkflowTools",
    "WorkspaceToolCredentials",
    "build_request",
    "parse_api_spec",
    "workflow_level",
]
