"""Apps at run time in the store: DSL import and export, versions, API keys, and the first run.

::

    manager = AppManager(db, cipher, tenant_id, factory=PluginNodeFactory(supervisor))
    app = await manager.import_dsl(Path("app.yml"))
    await manager.publish(app.id)
    key = await manager.create_api_key(app.id)   # key.token is shown once
"""

from .apps import AppApiKey, AppManager, AppSummary, WorkflowVersion, workspace_of_app
from .bootstrap import DEFAULT_OWNER_EMAIL, FirstRun, ensure_first_workspace, generate_password, prepare_database
from .errors import AppImportError, AppManagerError, AppModeError, AppNotFound, WorkspaceNotFound
from .extensions import ApiExtensionError, ApiExtensionNotFound, ApiExtensions, ApiExtensionView
from .mcp_servers import McpServerError, McpServers, McpServerView
from .workspaces import resolve_workspace

__all__ = [
    "DEFAULT_OWNER_EMAIL",
    "ApiExtensionError",
    "ApiExtensionNotFound",
    "ApiExtensionView",
    "ApiExtensions",
    "AppApiKey",
    "AppImportError",
    "AppManager",
    "AppManagerError",
    "AppModeError",
    "AppNotFound",
    "AppSummary",
    "FirstRun",
    "McpServerError",
    "McpServerView",
    "McpServers",
    "WorkflowVersion",
    "WorkspaceNotFound",
    "ensure_first_workspace",
    "generate_password",
    "prepare_database",
    "resolve_workspace",
    "workspace_of_app",
]
