"""Workspace roles and what each may do (WS-MEMBERS-ROLES), as one declarative matrix.

The matrix follows Dify's documented roles (workspace/team-members-management.md) and, where its
pages disagree, what Dify's own console enforces:

- **owner**: everything, and alone may delete the workspace, remove members and change roles;
  there is exactly one, and ownership cannot be transferred.
- **admin**: invites members, configures model providers, tools and plugins, manages all apps and
  knowledge bases; may not remove members nor change roles. (One page says only the owner invites,
  another that admins manage members; Dify lets admins invite but not remove nor change roles.)
- **editor**: creates, edits, publishes and deletes apps, manages knowledge bases and their documents,
  uses every tool and model; configures no provider and manages no member.
- **normal** ("Member"): uses published apps, tools and models; changes nothing.
- **dataset_operator**: manages knowledge bases, with no app access in the console.

Keys are managed like their resource, except that removing an app key, and anything to do with the
workspace-wide knowledge key, is for owners and admins (Dify's rule too): a knowledge key reaches
every knowledge base of the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from .errors import PermissionDenied, UnknownRole

__all__ = [
    "PERMISSIONS",
    "Action",
    "Role",
    "allowed",
    "require",
    "require_invite",
    "require_member_removal",
    "require_role_change",
]


class Role(StrEnum):
    """A member's role in one workspace (Dify's names, as stored and sent over the API)."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    NORMAL = "normal"
    DATASET_OPERATOR = "dataset_operator"

    @classmethod
    def parse(cls, value: str, *, field: str = "role") -> Role:
        """The role named ``value``; :class:`UnknownRole` naming ``field`` and the valid names otherwise."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise UnknownRole(f"{field}: {value!r} is not a workspace role (one of {names})") from None


class Action(StrEnum):
    """Something a member may or may not do in a workspace; the value is ``area.verb``."""

    WORKSPACE_UPDATE = "workspace.update"
    WORKSPACE_DELETE = "workspace.delete"
    BILLING_MANAGE = "billing.manage"

    MEMBERS_VIEW = "members.view"
    MEMBERS_INVITE = "members.invite"
    MEMBERS_REMOVE = "members.remove"
    MEMBERS_CHANGE_ROLE = "members.change_role"

    MODELS_USE = "models.use"
    MODELS_MANAGE = "models.manage"
    PLUGINS_VIEW = "plugins.view"
    PLUGINS_MANAGE = "plugins.manage"
    TOOLS_USE = "tools.use"
    TOOLS_MANAGE = "tools.manage"

    APPS_VIEW_ALL = "apps.view_all"
    APPS_USE = "apps.use"
    APPS_CREATE = "apps.create"
    APPS_EDIT = "apps.edit"
    APPS_PUBLISH = "apps.publish"
    APPS_DELETE = "apps.delete"
    APPS_EXPORT = "apps.export"
    APPS_EXPORT_SECRETS = "apps.export_secrets"
    APPS_VIEW_LOGS = "apps.view_logs"
    APPS_ANNOTATE = "apps.annotate"

    APP_API_KEYS_VIEW = "app_api_keys.view"
    APP_API_KEYS_CREATE = "app_api_keys.create"
    APP_API_KEYS_DELETE = "app_api_keys.delete"

    DATASETS_VIEW = "datasets.view"
    DATASETS_CREATE = "datasets.create"
    DATASETS_EDIT = "datasets.edit"
    DATASETS_DELETE = "datasets.delete"
    DATASET_API_KEYS_MANAGE = "dataset_api_keys.manage"


_ALL = frozenset(Role)
_OWNER = frozenset({Role.OWNER})
_ADMINS = frozenset({Role.OWNER, Role.ADMIN})
_EDITORS = _ADMINS | {Role.EDITOR}
_APP_USERS = _EDITORS | {Role.NORMAL}
_DATASET_EDITORS = _EDITORS | {Role.DATASET_OPERATOR}

#: Who may do each action: every :class:`Action` has a row, read-only.
PERMISSIONS: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        Action.WORKSPACE_UPDATE: _ADMINS,
        Action.WORKSPACE_DELETE: _OWNER,
        Action.BILLING_MANAGE: _OWNER,
        Action.MEMBERS_VIEW: _ALL,
        Action.MEMBERS_INVITE: _ADMINS,
        Action.MEMBERS_REMOVE: _OWNER,
        Action.MEMBERS_CHANGE_ROLE: _OWNER,
        Action.MODELS_USE: _ALL,
        Action.MODELS_MANAGE: _ADMINS,
        Action.PLUGINS_VIEW: _ALL,
        Action.PLUGINS_MANAGE: _ADMINS,
        Action.TOOLS_USE: _APP_USERS,
        Action.TOOLS_MANAGE: _ADMINS,
        Action.APPS_VIEW_ALL: _EDITORS,
        Action.APPS_USE: _APP_USERS,
        Action.APPS_CREATE: _EDITORS,
        Action.APPS_EDIT: _EDITORS,
        Action.APPS_PUBLISH: _EDITORS,
        Action.APPS_DELETE: _EDITORS,
        Action.APPS_EXPORT: _EDITORS,
        Action.APPS_EXPORT_SECRETS: _EDITORS,
        Action.APPS_VIEW_LOGS: _EDITORS,
        Action.APPS_ANNOTATE: _EDITORS,
        Action.APP_API_KEYS_VIEW: _EDITORS,
        Action.APP_API_KEYS_CREATE: _EDITORS,
        Action.APP_API_KEYS_DELETE: _ADMINS,
        Action.DATASETS_VIEW: _DATASET_EDITORS,
        Action.DATASETS_CREATE: _DATASET_EDITORS,
        Action.DATASETS_EDIT: _DATASET_EDITORS,
        Action.DATASETS_DELETE: _DATASET_EDITORS,
        Action.DATASET_API_KEYS_MANAGE: _ADMINS,
    }
)

_missing = set(Action) - set(PERMISSIONS)
if _missing:  # a new action without a row would be refused to everybody, silently
    raise RuntimeError(f"actions without a row in PERMISSIONS: {sorted(_missing)}")


def allowed(role: Role | str, action: Action | str) -> bool:
    """Whether ``role`` may do ``action`` (an unknown role may do nothing; an unknown action is an error)."""
    try:
        role = Role(role)
    except ValueError:
        return False
    return role in PERMISSIONS[_action(action)]


def require(role: Role | str, action: Action | str) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` may do ``action``."""
    if not allowed(role, action):
        act = _action(action)
        who = ", ".join(sorted(r.value for r in PERMISSIONS[act]))
        raise PermissionDenied(
            f"a workspace {str(role)!r} may not do {act.value!r} (it is for: {who})", role=str(role), action=act.value
        )


def require_invite(actor: Role, role: Role) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may invite a member with ``role``: owners
    and admins invite, to any role but owner (a workspace has one owner)."""
    require(actor, Action.MEMBERS_INVITE)
    if role is Role.OWNER:
        raise PermissionDenied(
            "nobody is invited as owner: a workspace has exactly one",
            role=actor.value,
            action=Action.MEMBERS_INVITE.value,
        )


def require_role_change(actor: Role, target: Role, new_role: Role, *, is_self: bool) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may change a ``target`` member's role to
    ``new_role``: only the owner changes roles, never its own, and nobody is made owner (ownership
    is not transferable)."""
    require(actor, Action.MEMBERS_CHANGE_ROLE)
    action = Action.MEMBERS_CHANGE_ROLE.value
    if is_self:
        raise PermissionDenied("a member cannot change their own role", role=actor.value, action=action)
    if target is Role.OWNER or new_role is Role.OWNER:
        raise PermissionDenied(
            "ownership cannot be transferred: the owner's role stays, and no member becomes owner",
            role=actor.value,
            action=action,
        )


def require_member_removal(actor: Role, target: Role, *, is_self: bool) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may remove a ``target`` member: only the
    owner removes members, never itself (a workspace always has its owner)."""
    require(actor, Action.MEMBERS_REMOVE)
    if is_self or target is Role.OWNER:
        raise PermissionDenied(
            "the owner cannot be removed from the workspace", role=actor.value, action=Action.MEMBERS_REMOVE.value
        )


def _action(action: Action | str) -> Action:
    try:
        return Action(action)
    except ValueError:
        raise ValueError(f"{action!r} is not a workspace action") from None
