"""The console API's OpenAPI document (``/console/api/openapi.json``): signing in, the account, the
workspaces and their members, as the routes in :mod:`treadle.api.console` answer (Dify's console
fields; timestamps are Unix seconds).

The table :data:`OPERATIONS` is the document: add a row (and any shape to :data:`SCHEMAS`) when a
console route is added.
"""

from __future__ import annotations

import json
from functools import cache

from ... import __version__
from ..console.auth import LoginRequest
from ..console.members import InviteRequest, RoleRequest
from ..console.workspaces import SwitchRequest
from .builder import (
    BOOL,
    INT,
    JSON,
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
    "Treadle's console API: the account, its workspaces and their members. Sign in with `POST /login`, then "
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
