"""The console API's OpenAPI document (``/console/api/openapi.json``): signing in, the account, the
workspaces and their members, apps with their versions and keys, model providers and default models,
plugins, workflow run logs, API-based extensions, MCP servers and knowledge API keys, as the routes in
:mod:`treadle.api.console` answer (Dify's console fields; timestamps are Unix seconds).

The table :data:`OPERATIONS` is the document: add a row (and any shape to :data:`SCHEMAS`) when a
console route is added (``tests/api/test_openapi.py`` fails on a route without one).
"""

from __future__ import annotations

import json
from functools import cache

from ... import __version__
from ..console.apps import AppListQuery, ExportQuery, ImportRequest, PublishRequest, VersionsQuery
from ..console.auth import LoginRequest
from ..console.extensions import ExtensionRequest
from ..console.mcp_server import ServerRequest
from ..console.mcp_tools import (
    McpAuthRequest,
    McpOAuthCallbackQuery,
    McpServerCreateRequest,
    McpServerDeleteRequest,
    McpServerUpdateRequest,
    McpToolSettingsRequest,
)
from ..console.members import InviteRequest, RoleRequest
from ..console.models import (
    CredentialIdRequest,
    CredentialsQuery,
    CredentialsRequest,
    DefaultModelQuery,
    DefaultModelRequest,
)
from ..console.runs import RunListQuery
from ..console.workspaces import SwitchRequest
from .builder import (
    ANY,
    BOOL,
    INT,
    JSON,
    NUM,
    OBJECT,
    STR,
    TIMESTAMP,
    Body,
    Operation,
    arr,
    build_document,
    enum,
    nullable,
    obj,
    ref,
)

__all__ = ["OPERATIONS", "SCHEMAS", "console_document"]

_SESSION = obj({
    "result": enum("success"),
    "data": obj({"access_token": STR, "expires_at": INT}),
}, description="A session: the token (also set as the `access_token` HttpOnly cookie) and when it expires.")

_PROFILE = obj({
    "id": STR,
    "name": STR,
    "avatar": nullable(STR),
    "avatar_url": nullable(STR),
    "email": STR,
    "is_password_set": BOOL,
    "interface_language": nullable(STR),
    "interface_theme": nullable(STR),
    "timezone": nullable(STR),
    "status": STR,
    "last_login_at": nullable(TIMESTAMP),
    "last_login_ip": nullable(STR),
    "last_active_at": nullable(TIMESTAMP),
    "created_at": nullable(TIMESTAMP),
}, description="The signed-in account.")

_ROLES = ("owner", "admin", "editor", "normal", "dataset_operator")

_WORKSPACE = obj({
    "id": STR,
    "name": STR,
    "plan": STR,
    "status": STR,
    "created_at": nullable(TIMESTAMP),
    "current": BOOL,
    "role": enum(*_ROLES),
    "custom_config": OBJECT,
}, optional=("role", "custom_config"), description="A workspace (WS-WORKSPACE).")

_MEMBER = obj({
    "id": STR,
    "name": STR,
    "avatar": nullable(STR),
    "avatar_url": nullable(STR),
    "email": STR,
    "last_login_at": nullable(TIMESTAMP),
    "last_active_at": nullable(TIMESTAMP),
    "created_at": nullable(TIMESTAMP),
    "role": enum(*_ROLES),
    "status": STR,
}, description="A member of the current workspace (WS-MEMBERS-ROLES).")

_INVITATION = obj({
    "status": enum("success", "failed"),
    "email": STR,
    "account_id": STR,
    "url": nullable(STR),
    "password": STR,
    "message": STR,
}, optional=("account_id", "url", "password", "message"),
   description="What became of one invited email; `password` only for an account the invitation made.")

_APP_MODES = ("workflow", "advanced-chat", "chat", "agent-chat", "completion")

_APP = obj({
    "id": STR,
    "name": STR,
    "description": STR,
    "mode": enum(*_APP_MODES),
    "icon_type": nullable(STR),
    "icon": nullable(STR),
    "icon_background": nullable(STR),
    "icon_url": nullable(STR),
    "enable_site": BOOL,
    "enable_api": BOOL,
    "workflow": nullable(obj({"id": STR})),
    "max_active_requests": nullable(INT),
    "tags": arr(ANY),
    "created_by": nullable(STR),
    "created_at": TIMESTAMP,
    "updated_by": nullable(STR),
    "updated_at": TIMESTAMP,
}, description="An app as the app list shows it (WS-APP-MGMT); `workflow` is the published version in force.")

_APP_DETAIL = {
    "allOf": [
        ref("App"),
        obj({
            "status": STR,
            "model_config": nullable(OBJECT),
            "site": OBJECT,
            "site_code": nullable(STR),
            "api_base_url": STR,
            "api_rpm": INT,
            "api_rph": INT,
        }),
    ],
    "description": "An app with its configuration (`model_config`: chat, agent-chat and completion apps only), "
                   "web app settings and Service API base URL.",
}

_IMPORT = obj({
    "id": STR,
    "status": enum("completed", "completed-with-warnings", "pending", "failed"),
    "app_mode": enum(*_APP_MODES),
    "app_id": STR,
    "current_dsl_version": STR,
    "imported_dsl_version": STR,
    "error": STR,
}, description="An import's outcome (Dify's import fields): the new app and the DSL versions.")

_VERSION = obj({
    "id": STR,
    "version": STR,
    "marked_name": STR,
    "marked_comment": STR,
    "created_at": TIMESTAMP,
    "current": BOOL,
}, description="A workflow version: `draft` or a published one; `current` marks the one in force (VC-HISTORY).")

_API_KEY = obj({
    "id": STR,
    "type": enum("app", "dataset"),
    "token": STR,
    "last_used_at": nullable(TIMESTAMP),
    "created_at": TIMESTAMP,
}, description="An API key: `token` in full only in the answer that made it, otherwise its masked prefix.")

#: Dify's localised text: language code → text.
_I18N: JSON = {"type": "object", "additionalProperties": STR}

_CREDENTIAL_FIELD = obj({
    "variable": STR,
    "label": _I18N,
    "type": enum("text-input", "secret-input", "select", "radio", "switch"),
    "required": BOOL,
    "default": ANY,
    "options": arr(OBJECT),
    "placeholder": nullable(_I18N),
    "max_length": INT,
    "show_on": arr(OBJECT),
}, description="One field of a provider's credentials form.")

_PROVIDER = obj({
    "provider": STR,
    "plugin": STR,
    "label": _I18N,
    "description": nullable(_I18N),
    "icon_small": nullable(STR),
    "icon_large": nullable(STR),
    "supported_model_types": arr(STR),
    "configurate_methods": arr(STR),
    "provider_credential_schema": arr(ref("CredentialFormField")),
    "model_credential_schema": arr(ref("CredentialFormField")),
    "preferred_provider_type": STR,
    "custom_configuration": obj({
        "status": enum("active", "no-configure"),
        "current_credential_id": nullable(STR),
        "current_credential_name": nullable(STR),
        "available_credentials": arr(obj({"credential_id": STR, "credential_name": STR})),
    }),
}, description="An installed model provider and whether the workspace has set its credentials (WS-MODEL-PROVIDERS).")

_CREDENTIAL = obj({
    "credential_id": STR,
    "credential_name": STR,
    "is_default": BOOL,
    "credentials": OBJECT,
    "created_at": TIMESTAMP,
}, description="A saved credential, its secret fields masked (WS-MODEL-CREDENTIALS).")

_DEFAULT_MODEL = obj({
    "model": STR,
    "model_type": STR,
    "provider": obj({
        "provider": STR,
        "label": _I18N,
        "icon_small": nullable(STR),
        "icon_large": nullable(STR),
        "supported_model_types": arr(STR),
    }),
}, description="The workspace's default model of one type (WS-DEFAULT-MODELS).")

_PLUGIN = obj({
    "name": STR,
    "distribution": STR,
    "version": STR,
    "group": STR,
    "isolation": STR,
    "pid": nullable(INT),
    "state": enum("starting", "running", "restarting", "stopped", "failed"),
    "host_error": STR,
    "restarts": INT,
    "error": STR,
    "registers": arr(STR, description="`kind:name` of each extension the plugin registers."),
}, description="A plugin the server runs: where, its state, and what it registers (WS-PLUGINS).")

_RUN_STATUSES = ("running", "succeeded", "failed", "stopped", "partial-succeeded", "paused")

_RUN = obj({
    "id": STR,
    "version": STR,
    "type": STR,
    "triggered_from": STR,
    "status": enum(*_RUN_STATUSES),
    "error": nullable(STR),
    "elapsed_time": NUM,
    "total_tokens": INT,
    "total_steps": INT,
    "exceptions_count": INT,
    "conversation_id": nullable(STR),
    "created_by_role": STR,
    "created_at": TIMESTAMP,
    "finished_at": nullable(TIMESTAMP),
}, description="A workflow run as the run list shows it (EXEC-RUN-RECORDS, MON-LOGS).")

_RUN_DETAIL = {
    "allOf": [
        ref("WorkflowRun"),
        obj({
            "workflow_id": nullable(STR),
            "graph": nullable(OBJECT),
            "inputs": OBJECT,
            "outputs": OBJECT,
            "created_by_account": nullable(obj({"id": STR, "name": STR, "email": STR})),
            "created_by_end_user": nullable(obj({
                "id": STR, "type": STR, "is_anonymous": BOOL, "session_id": STR,
            })),
        }),
    ],
    "description": "A workflow run with the graph it ran, its inputs and outputs, and who started it.",
}

_NODE_EXECUTION = obj({
    "id": STR,
    "index": INT,
    "predecessor_node_id": nullable(STR),
    "node_id": STR,
    "node_type": STR,
    "title": STR,
    "inputs": nullable(OBJECT),
    "process_data": nullable(OBJECT),
    "outputs": nullable(OBJECT),
    "status": STR,
    "error": nullable(STR),
    "elapsed_time": NUM,
    "execution_metadata": OBJECT,
    "extras": OBJECT,
    "created_at": TIMESTAMP,
    "finished_at": nullable(TIMESTAMP),
}, description="One node's execution in a run: inputs, process data, outputs, timing and status.")

_EXTENSION = obj({
    "id": STR,
    "name": STR,
    "api_endpoint": STR,
    "api_key": STR,
    "created_at": TIMESTAMP,
}, description="An API-based extension; `api_key` is masked (FEAT-MODERATION).")

_MCP_TOOL = obj({
    "name": STR,
    "label": STR,
    "description": STR,
    "parameters": arr(OBJECT),
    "input_schema": OBJECT,
    "settings": obj({"description": STR, "fixed": OBJECT}),
}, description="A tool of an MCP server: its parameters as tool parameters (Fixed ones left out), the input "
               "schema as the server gave it, and the workspace's description override and Fixed values.")

_MCP_TOOL_SERVER = obj({
    "id": STR,
    "server_identifier": STR,
    "provider_id": STR,
    "name": STR,
    "label": OBJECT,
    "type": enum("mcp"),
    "icon": STR,
    "server_url": STR,
    "headers": OBJECT,
    "transport": enum("auto", "streamable_http", "sse"),
    "connected_over": STR,
    "configuration": obj({"timeout": NUM, "sse_read_timeout": NUM}),
    "is_team_authorization": BOOL,
    "authorization": enum("none", "required", "pending", "authorized"),
    "error": STR,
    "updated_at": INT,
    "tools": arr(_MCP_TOOL),
}, description="An MCP server of the workspace (WS-MCP-CLIENT): `server_identifier` is what apps reference; "
               "header values and the URL's query are masked; `error` says why an unconfigured server "
               "(`is_team_authorization` false) could not be listed. `authorization` (OAuth): `required` when "
               "it answered 401, `pending` while a sign-in is under way, `authorized` with tokens, else `none`.")

_MCP_SERVER = obj({
    "id": STR,
    "app_id": STR,
    "server_code": STR,
    "server_url": STR,
    "status": enum("active", "inactive"),
    "description": STR,
    "parameters": obj({}, description="Descriptions of the tool's parameters by input variable name."),
    "require_api_key": BOOL,
    "created_at": nullable(TIMESTAMP),
    "updated_at": nullable(TIMESTAMP),
}, description="An app's MCP server; `server_url` embeds the code, the server's credential (PUB-MCP-SERVER).")


def _page(items: JSON, description: str) -> JSON:
    """A page-style list: page, limit, total, has_more and the items."""
    return obj({"page": INT, "limit": INT, "total": INT, "has_more": BOOL, "data": arr(items)},
               description=description)


#: The named response shapes (components/schemas).
SCHEMAS: dict[str, JSON] = {
    "Session": _SESSION,
    "AccountProfile": _PROFILE,
    "Workspace": _WORKSPACE,
    "WorkspaceList": obj({"workspaces": arr(ref("Workspace"))}),
    "WorkspaceSwitched": obj({
        "result": enum("success"),
        "new_tenant": ref("Workspace"),
        "data": obj({"access_token": STR, "expires_at": INT}),
    }),
    "Member": _MEMBER,
    "MemberList": obj({"result": enum("success"), "accounts": arr(ref("Member"))}),
    "InvitationResults": obj({
        "result": enum("success"),
        "invitation_results": arr(_INVITATION),
        "tenant_id": STR,
    }),
    "Result": obj({"result": enum("success")}),
    "App": _APP,
    "AppDetail": _APP_DETAIL,
    "AppPage": _page(ref("App"), "Apps of the current workspace, newest first (WS-APP-MGMT)."),
    "AppImport": _IMPORT,
    "AppExport": obj({"data": STR}, description="The app's DSL (YAML)."),
    "WorkflowVersion": _VERSION,
    "WorkflowPublished": obj({
        "result": enum("success"),
        "id": STR,
        "version": STR,
        "marked_name": STR,
        "marked_comment": STR,
        "created_at": TIMESTAMP,
    }, description="The version just published (VC-DRAFT-PUBLISH)."),
    "WorkflowVersionPage": obj({
        "items": arr(ref("WorkflowVersion")), "page": INT, "limit": INT, "has_more": BOOL,
    }, description="An app's workflow versions (VC-HISTORY)."),
    "WorkflowRestored": obj({
        "result": enum("success"), "draft": obj({"id": STR, "version": enum("draft")}),
    }, description="The draft, now a copy of the restored version (VC-MANAGE)."),
    "ApiKey": _API_KEY,
    "ApiKeyList": obj({"data": arr(ref("ApiKey"))}),
    "CredentialFormField": _CREDENTIAL_FIELD,
    "ModelProvider": _PROVIDER,
    "ModelProviderList": obj({"data": arr(ref("ModelProvider"))}),
    "ProviderCredential": _CREDENTIAL,
    "ProviderCredentials": obj({
        "credentials": nullable(OBJECT),
        "current_credential_id": nullable(STR),
        "current_credential_name": nullable(STR),
        "available_credentials": arr(ref("ProviderCredential")),
    }, description="The chosen (or default) credential's masked values, and every credential of the provider."),
    "ProviderCredentialSaved": {"allOf": [obj({"result": enum("success")}), ref("ProviderCredential")]},
    "DefaultModel": obj({"data": nullable(_DEFAULT_MODEL)}, description="`data` is null when none is set."),
    "PluginList": obj({"plugins": arr(_PLUGIN), "total": INT}),
    "WorkflowRun": _RUN,
    "WorkflowRunDetail": _RUN_DETAIL,
    "WorkflowRunPage": _page(ref("WorkflowRun"), "An app's workflow runs, newest first."),
    "NodeExecution": _NODE_EXECUTION,
    "NodeExecutionList": obj({"data": arr(ref("NodeExecution"))}),
    "ApiExtension": _EXTENSION,
    "McpServer": _MCP_SERVER,
    "McpToolServer": _MCP_TOOL_SERVER,
}

_OK = Body("Done.", json=ref("Result"))

OPERATIONS: tuple[Operation, ...] = (
    Operation("POST", "/login", "login", "Sign in", "Session",
              Body("Signed in.", json=ref("Session")), spec=("WS-ACCOUNT",), body=LoginRequest,
              errors=(401, 403, 429), public=True),
    Operation("POST", "/logout", "logout", "Sign out (ends every session of the account)", "Session", _OK,
              spec=("WS-ACCOUNT",), errors=(401,), public=True),
    Operation("POST", "/refresh-token", "refreshToken", "Renew a session", "Session",
              Body("A fresh session.", json=ref("Session")), spec=("WS-ACCOUNT",), errors=(401,), public=True),
    Operation("GET", "/account/profile", "getAccountProfile", "The signed-in account", "Account",
              Body("The account.", json=ref("AccountProfile")), spec=("WS-ACCOUNT",), errors=(403,)),
    Operation("GET", "/workspaces", "listWorkspaces", "The account's workspaces", "Workspaces",
              Body("The workspaces.", json=ref("WorkspaceList")), spec=("WS-WORKSPACE",), errors=(403,)),
    Operation("GET", "/workspaces/current", "getCurrentWorkspace", "The current workspace", "Workspaces",
              Body("The workspace, with the account's role in it.", json=ref("Workspace")),
              spec=("WS-WORKSPACE",), errors=(403, 404)),
    Operation("POST", "/workspaces/switch", "switchWorkspace", "Switch the current workspace", "Workspaces",
              Body("The new current workspace and a session for it.", json=ref("WorkspaceSwitched")),
              spec=("WS-WORKSPACE",), body=SwitchRequest, errors=(403, 404)),
    Operation("GET", "/workspaces/current/members", "listMembers", "The current workspace's members", "Members",
              Body("The members.", json=ref("MemberList")), spec=("WS-MEMBERS-ROLES",), errors=(403,)),
    Operation("POST", "/workspaces/current/members/invite-email", "inviteMembers", "Invite members", "Members",
              Body("What became of each email.", json=ref("InvitationResults")), spec=("WS-MEMBERS-ROLES",),
              status=201, body=InviteRequest, errors=(403,)),
    Operation("PUT", "/workspaces/current/members/{member_id}/update-role", "updateMemberRole",
              "Change a member's role", "Members", _OK, spec=("WS-MEMBERS-ROLES",), body=RoleRequest,
              errors=(403, 404)),
    Operation("DELETE", "/workspaces/current/members/{member_id}", "removeMember", "Remove a member", "Members",
              Body("Removed."), spec=("WS-MEMBERS-ROLES",), status=204, errors=(403, 404)),
    # Apps (WS-APP-MGMT) with their workflow versions and Service API keys.
    Operation("GET", "/apps", "listApps", "The workspace's apps", "Apps",
              Body("A page of apps.", json=ref("AppPage")), spec=("WS-APP-MGMT", "APP-TYPES"), query=AppListQuery,
              errors=(403,)),
    Operation("POST", "/apps/imports", "importApp", "Make an app from a DSL file", "Apps",
              Body("The app was made.", json=ref("AppImport")), spec=("WS-APP-MGMT",), body=ImportRequest,
              errors=(403,), description="Only `yaml-content` is supported; a DSL with problems is 400 "
                                         "`invalid_param` with `problems` (message, DSL path, node id)."),
    Operation("GET", "/apps/{app_id}", "getApp", "An app", "Apps",
              Body("The app.", json=ref("AppDetail")), spec=("WS-APP-MGMT",), errors=(403,)),
    Operation("DELETE", "/apps/{app_id}", "deleteApp", "Delete an app", "Apps",
              Body("Deleted."), spec=("WS-APP-MGMT",), status=204, errors=(403,)),
    Operation("GET", "/apps/{app_id}/export", "exportApp", "An app's DSL", "Apps",
              Body("The DSL.", json=ref("AppExport")), spec=("WS-APP-MGMT",), query=ExportQuery, errors=(403,),
              description="Secret environment variables are left empty unless `include_secret` (owners and admins)."),
    Operation("POST", "/apps/{app_id}/workflows/publish", "publishWorkflow", "Publish the draft", "Apps",
              Body("The version published.", json=ref("WorkflowPublished")), spec=("VC-DRAFT-PUBLISH",),
              body=PublishRequest, errors=(403,),
              description="Workflow and chatflow apps; another mode is 400 `not_workflow_app`."),
    Operation("GET", "/apps/{app_id}/workflows", "listWorkflowVersions", "An app's workflow versions", "Apps",
              Body("A page of versions, the draft first.", json=ref("WorkflowVersionPage")), spec=("VC-HISTORY",),
              query=VersionsQuery, errors=(403,)),
    Operation("POST", "/apps/{app_id}/workflows/{version_id}/restore", "restoreWorkflowVersion",
              "Restore a version into the draft", "Apps",
              Body("The draft now holds the version.", json=ref("WorkflowRestored")), spec=("VC-MANAGE",),
              errors=(403,)),
    Operation("GET", "/apps/{app_id}/api-keys", "listAppApiKeys", "An app's Service API keys", "Apps",
              Body("The keys, masked.", json=ref("ApiKeyList")), spec=("API-COMMON-AUTH",), errors=(403,)),
    Operation("POST", "/apps/{app_id}/api-keys", "createAppApiKey", "Make a Service API key", "Apps",
              Body("The key, shown in full this once.", json=ref("ApiKey")), spec=("API-COMMON-AUTH",),
              status=201, errors=(403,), description="At most ten per app: 400 `max_keys_exceeded` beyond."),
    Operation("DELETE", "/apps/{app_id}/api-keys/{key_id}", "deleteAppApiKey", "Delete a Service API key", "Apps",
              Body("Deleted."), spec=("API-COMMON-AUTH",), status=204, errors=(403,)),
    # Apps as MCP servers.
    Operation("GET", "/apps/{app_id}/server", "getMcpServer", "An app's MCP server", "Apps",
              Body("The server, on or off.", json=ref("McpServer")), spec=("PUB-MCP-SERVER",), errors=(403,),
              description="404 `not_found` when the app's server was never switched on."),
    Operation("POST", "/apps/{app_id}/server", "enableMcpServer", "Switch an app's MCP server on", "Apps",
              Body("The server, on.", json=ref("McpServer")), spec=("PUB-MCP-SERVER",), body=ServerRequest,
              errors=(403,), description="Made with a new code on first use; settings given replace the stored "
                                         "ones. A workflow started by a trigger is 400 `invalid_param`."),
    Operation("PUT", "/apps/{app_id}/server", "updateMcpServer", "Change an app's MCP server", "Apps",
              Body("The server.", json=ref("McpServer")), spec=("PUB-MCP-SERVER",), body=ServerRequest,
              errors=(403,), description="`status` switches it on (`active`) or off (`inactive`)."),
    Operation("GET", "/apps/{server_id}/server/refresh", "regenerateMcpServerCode", "Give an MCP server a new URL",
              "Apps", Body("The server with its new code.", json=ref("McpServer")), spec=("PUB-MCP-SERVER",),
              errors=(403,), description="Named by the server's id (Dify's route); the old URL stops working at once."),
    # Model providers, their credentials and the default models.
    Operation("GET", "/workspaces/current/model-providers", "listModelProviders", "The installed model providers",
              "Model providers", Body("The providers.", json=ref("ModelProviderList")),
              spec=("WS-MODEL-PROVIDERS",), errors=(403,)),
    Operation("GET", "/workspaces/current/model-providers/{provider}/credentials", "getProviderCredentials",
              "A provider's credentials", "Model providers",
              Body("The credentials, masked.", json=ref("ProviderCredentials")), spec=("WS-MODEL-CREDENTIALS",),
              query=CredentialsQuery, errors=(403,)),
    Operation("POST", "/workspaces/current/model-providers/{provider}/credentials", "saveProviderCredentials",
              "Save credentials (validated first)", "Model providers",
              Body("Saved.", json=ref("ProviderCredentialSaved")), spec=("WS-MODEL-CREDENTIALS",), status=201,
              body=CredentialsRequest, errors=(403,),
              description="Credentials the provider refuses are 400 `invalid_param` naming the field."),
    Operation("DELETE", "/workspaces/current/model-providers/{provider}/credentials", "deleteProviderCredentials",
              "Delete a credential", "Model providers", Body("Deleted."), spec=("WS-MODEL-CREDENTIALS",),
              status=204, body=CredentialIdRequest, params={"credential_id": STR}, errors=(403,),
              description="The credential is named by the `credential_id` query parameter or, without it, the body."),
    Operation("POST", "/workspaces/current/model-providers/{provider}/credentials/switch",
              "switchProviderCredentials", "Make a credential the provider's default", "Model providers", _OK,
              spec=("WS-MODEL-CREDENTIALS",), body=CredentialIdRequest, errors=(403,)),
    Operation("GET", "/workspaces/current/default-model", "getDefaultModel", "The default model of a type",
              "Model providers", Body("The default model, or null.", json=ref("DefaultModel")),
              spec=("WS-DEFAULT-MODELS",), query=DefaultModelQuery, errors=(403,)),
    Operation("POST", "/workspaces/current/default-model", "setDefaultModels", "Set or clear default models",
              "Model providers", _OK, spec=("WS-DEFAULT-MODELS",), body=DefaultModelRequest, errors=(403, 404),
              description="An entry without provider and model clears that type's default; an unknown model is 404."),
    # Plugins.
    Operation("GET", "/workspaces/current/plugins", "listPlugins", "The plugins the server runs", "Plugins",
              Body("The plugin table.", json=ref("PluginList")), spec=("WS-PLUGINS",), errors=(403,)),
    # Workflow run logs.
    Operation("GET", "/apps/{app_id}/workflow-runs", "listWorkflowRuns", "An app's workflow runs", "Workflow runs",
              Body("A page of runs.", json=ref("WorkflowRunPage")), spec=("EXEC-RUN-RECORDS", "MON-LOGS"),
              query=RunListQuery, errors=(403,)),
    Operation("GET", "/apps/{app_id}/workflow-runs/{run_id}", "getWorkflowRun", "A workflow run", "Workflow runs",
              Body("The run.", json=ref("WorkflowRunDetail")), spec=("EXEC-RUN-RECORDS", "MON-LOGS"), errors=(403,)),
    Operation("GET", "/apps/{app_id}/workflow-runs/{run_id}/node-executions", "listNodeExecutions",
              "A run's node executions", "Workflow runs",
              Body("The node executions, in order.", json=ref("NodeExecutionList")),
              spec=("EXEC-RUN-RECORDS", "MON-TRACE-SCHEMA"), errors=(403,)),
    # API-based extensions.
    Operation("GET", "/api-based-extension", "listApiExtensions", "The workspace's API extensions", "API extensions",
              Body("The extensions, newest first, keys masked.", json=arr(ref("ApiExtension"))),
              spec=("FEAT-MODERATION",), errors=(403,)),
    Operation("POST", "/api-based-extension", "createApiExtension", "Add an API extension", "API extensions",
              Body("Saved after it answered `ping`.", json=ref("ApiExtension")), spec=("FEAT-MODERATION",),
              status=201, body=ExtensionRequest, errors=(403,),
              description="The endpoint must answer `{\"point\": \"ping\"}` with `{\"result\": \"pong\"}`; "
                          "otherwise 400 `invalid_param`."),
    Operation("GET", "/api-based-extension/{extension_id}", "getApiExtension", "An API extension", "API extensions",
              Body("The extension, key masked.", json=ref("ApiExtension")), spec=("FEAT-MODERATION",),
              errors=(403,)),
    Operation("POST", "/api-based-extension/{extension_id}", "updateApiExtension", "Change an API extension",
              "API extensions", Body("Saved after it answered `ping`.", json=ref("ApiExtension")),
              spec=("FEAT-MODERATION",), body=ExtensionRequest, errors=(403,),
              description="Sending the masked key back keeps the stored one."),
    Operation("DELETE", "/api-based-extension/{extension_id}", "deleteApiExtension", "Delete an API extension",
              "API extensions", Body("Deleted."), spec=("FEAT-MODERATION",), status=204, errors=(403,)),
    # MCP servers whose tools apps use.
    Operation("GET", "/workspaces/current/tools/mcp", "listMcpToolServers", "The workspace's MCP servers",
              "MCP tools", Body("The servers with their tools, by Server ID.", json=arr(ref("McpToolServer"))),
              spec=("WS-MCP-CLIENT",), errors=(403,)),
    Operation("POST", "/workspaces/current/tool-provider/mcp", "createMcpToolServer", "Add an MCP server",
              "MCP tools", Body("The server, its tools listed (or its `error`).", json=ref("McpToolServer")),
              spec=("WS-MCP-CLIENT",), body=McpServerCreateRequest, errors=(403,),
              description="`server_identifier`: 1 to 24 lowercase letters, digits, `_` or `-`, unique in the "
                          "workspace, never changed. A server that cannot be listed is kept, unconfigured."),
    Operation("PUT", "/workspaces/current/tool-provider/mcp", "updateMcpToolServer", "Change an MCP server",
              "MCP tools", Body("Changed.", json=obj({"result": enum("success"), "provider": ref("McpToolServer")})),
              spec=("WS-MCP-CLIENT",), body=McpServerUpdateRequest, errors=(403, 404),
              description="Everything but the Server ID; sending a masked header value back keeps the stored one."),
    Operation("DELETE", "/workspaces/current/tool-provider/mcp", "deleteMcpToolServer", "Remove an MCP server",
              "MCP tools", _OK, spec=("WS-MCP-CLIENT",), body=McpServerDeleteRequest, errors=(403, 404)),
    Operation("GET", "/workspaces/current/tool-provider/mcp/tools/{provider_id}", "getMcpToolServer",
              "An MCP server", "MCP tools", Body("The server and its tools.", json=ref("McpToolServer")),
              spec=("WS-MCP-CLIENT",), errors=(403, 404)),
    Operation("GET", "/workspaces/current/tool-provider/mcp/update/{provider_id}", "refreshMcpToolServer",
              "List an MCP server's tools again", "MCP tools",
              Body("The server and its tools as listed now.", json=ref("McpToolServer")), spec=("WS-MCP-CLIENT",),
              errors=(403, 404)),
    Operation("POST", "/workspaces/current/tool-provider/mcp/tools/{provider_id}/{tool_name}/settings",
              "setMcpToolSettings", "Set one MCP tool's description and Fixed parameters", "MCP tools",
              Body("The server and its tools.", json=ref("McpToolServer")), spec=("WS-MCP-CLIENT",),
              body=McpToolSettingsRequest, errors=(403, 404)),
    Operation("POST", "/workspaces/current/tool-provider/mcp/auth", "authorizeMcpToolServer",
              "Sign in to an MCP server with OAuth (Re-authorize)", "MCP tools",
              Body("The URL to open in a browser.", json=obj({"result": enum("pending"), "authorization_url": STR})),
              spec=("WS-MCP-CLIENT",), body=McpAuthRequest, errors=(403, 404),
              description="Discovers the server's authorization server (RFC 9728, RFC 8414), registers a client "
                          "(RFC 7591) unless one is kept, and answers the authorization URL (PKCE S256, a state). "
                          "The browser comes back to `/mcp/oauth/callback` under `[server] public_url`, or under "
                          "the URL this request came to. 400 when the server does not use OAuth."),
    Operation("GET", "/mcp/oauth/callback", "mcpOAuthCallback", "Finish an MCP server's OAuth sign-in", "MCP tools",
              Body("Signed in: the server with its tools listed.",
                   json=obj({"result": enum("success"), "provider": ref("McpToolServer")})),
              spec=("WS-MCP-CLIENT",), query=McpOAuthCallbackQuery, public=True,
              description="Where the authorization server sends the browser back. No session: the `state`, issued "
                          "by `tool-provider/mcp/auth` for one server and usable once within ten minutes, says "
                          "which. A state that matches nothing, an `error` or a code the token endpoint refuses "
                          "is 400 `invalid_param`."),
    # Knowledge API keys.
    Operation("GET", "/datasets/api-keys", "listKnowledgeApiKeys", "The workspace's knowledge API keys",
              "Knowledge API keys", Body("The keys, masked.", json=ref("ApiKeyList")), spec=("API-COMMON-AUTH",),
              errors=(403,)),
    Operation("POST", "/datasets/api-keys", "createKnowledgeApiKey", "Make a knowledge API key",
              "Knowledge API keys", Body("The key, shown in full this once.", json=ref("ApiKey")),
              spec=("API-COMMON-AUTH",), status=201, errors=(403,),
              description="At most ten per workspace: 400 `max_keys_exceeded` beyond."),
    Operation("DELETE", "/datasets/api-keys/{key_id}", "deleteKnowledgeApiKey", "Delete a knowledge API key",
              "Knowledge API keys", Body("Deleted."), spec=("API-COMMON-AUTH",), status=204, errors=(403,)),
)

_SECURITY = {
    "ConsoleSession": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer {access_token}`: the token `POST /login` answers with.",
    },
    "ConsoleCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "access_token",
        "description": "The HttpOnly session cookie `POST /login` sets (browsers).",
    },
}

_DESCRIPTION = (
    "Treadle's console API: the account, its workspaces and their members, apps, model providers, plugins, "
    "run logs, API extensions and knowledge API keys. Sign in with `POST /login`, then "
    "send the session as a Bearer token or the `access_token` cookie. Errors are `{code, message, status}`."
)


@cache
def _document() -> str:
    document = build_document(
        title="Treadle Console API", version=__version__, description=_DESCRIPTION, server="/console/api",
        operations=OPERATIONS, schemas=SCHEMAS, security_schemes=_SECURITY,
    )
    return json.dumps(document)


def console_document() -> JSON:
    """The console API's OpenAPI 3.1 document (a fresh copy each call)."""
    document: JSON = json.loads(_document())
    return document
