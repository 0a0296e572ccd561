"""The role matrix against Dify's documented roles (workspace/team-members-management.md) and the
rules of Dify's console where the pages disagree."""

from __future__ import annotations

import pytest
from treadle.tenancy import (
    PERMISSIONS,
    Action,
    PermissionDenied,
    Role,
    UnknownRole,
    allowed,
    require,
    require_invite,
    require_member_removal,
    require_role_change,
)

OWNER, ADMIN, EDITOR, NORMAL, DATASET_OPERATOR = Role

# One row per documented sentence: the action, and exactly the roles that may do it.
DOCUMENTED = [
    # Owner: "Controls all team members, billing, model providers, and can delete the workspace."
    (Action.WORKSPACE_DELETE, {OWNER}),
    (Action.BILLING_MANAGE, {OWNER}),
    # "Only workspace owners can remove team members." / "Only workspace owners can modify member roles."
    (Action.MEMBERS_REMOVE, {OWNER}),
    (Action.MEMBERS_CHANGE_ROLE, {OWNER}),
    # Admin: "Can add ... team members, configure model providers, manage all applications, and install plugins."
    (Action.MEMBERS_INVITE, {OWNER, ADMIN}),
    (Action.MODELS_MANAGE, {OWNER, ADMIN}),
    (Action.PLUGINS_MANAGE, {OWNER, ADMIN}),
    # Editor: "Can create, edit, and delete applications, manage knowledge bases, and use all workspace
    # tools. Cannot manage team members or configure providers."
    (Action.APPS_CREATE, {OWNER, ADMIN, EDITOR}),
    (Action.APPS_EDIT, {OWNER, ADMIN, EDITOR}),
    (Action.APPS_DELETE, {OWNER, ADMIN, EDITOR}),
    (Action.APPS_PUBLISH, {OWNER, ADMIN, EDITOR}),
    (Action.TOOLS_MANAGE, {OWNER, ADMIN}),
    # Member ("normal"): "Can use published applications and tools they have access to. Cannot create
    # or modify applications."
    (Action.APPS_USE, {OWNER, ADMIN, EDITOR, NORMAL}),
    (Action.TOOLS_USE, {OWNER, ADMIN, EDITOR, NORMAL}),
    # Dataset operator: "Can create and manage knowledge bases but has limited application access."
    (Action.DATASETS_CREATE, {OWNER, ADMIN, EDITOR, DATASET_OPERATOR}),
    (Action.DATASETS_EDIT, {OWNER, ADMIN, EDITOR, DATASET_OPERATOR}),
    (Action.DATASETS_DELETE, {OWNER, ADMIN, EDITOR, DATASET_OPERATOR}),
    # "Owners and Admins see all applications. Editors see applications they can modify. Members see
    # only published applications they're permitted to use."
    (Action.APPS_VIEW_ALL, {OWNER, ADMIN, EDITOR}),
    # Keys: app keys are made by app editors and removed by admins; the workspace-wide knowledge key
    # is for admins.
    (Action.APP_API_KEYS_CREATE, {OWNER, ADMIN, EDITOR}),
    (Action.APP_API_KEYS_DELETE, {OWNER, ADMIN}),
    (Action.DATASET_API_KEYS_MANAGE, {OWNER, ADMIN}),
    # Everyone sees who is in the workspace and uses its models.
    (Action.MEMBERS_VIEW, set(Role)),
    (Action.MODELS_USE, set(Role)),
]


@pytest.mark.parametrize(("action", "roles"), DOCUMENTED, ids=[str(action) for action, _ in DOCUMENTED])
def test_matrix_matches_the_documented_roles(action: Action, roles: set[Role]) -> None:
    assert PERMISSIONS[action] == roles
    for role in Role:
        assert allowed(role, action) is (role in roles)


def test_every_action_has_a_row_and_the_owner_may_do_everything() -> None:
    assert set(PERMISSIONS) == set(Action)
    assert all(OWNER in roles for roles in PERMISSIONS.values())


def test_each_role_may_do_no_more_than_the_role_above_it_except_the_dataset_operator() -> None:
    def powers(role: Role) -> set[Action]:
        return {action for action, roles in PERMISSIONS.items() if role in roles}

    assert powers(NORMAL) < powers(EDITOR) < powers(ADMIN) < powers(OWNER)
    # The dataset operator is beside the ladder: knowledge bases, no apps.
    assert powers(DATASET_OPERATOR) <= powers(EDITOR)
    assert not {a for a in powers(DATASET_OPERATOR) if a.value.startswith(("apps.", "app_api_keys."))}
    assert Action.DATASETS_EDIT not in powers(NORMAL)


def test_require_raises_a_permission_error_naming_role_action_and_who_may() -> None:
    require(EDITOR, Action.APPS_EDIT)
    require("admin", "models.manage")
    with pytest.raises(PermissionDenied) as caught:
        require(NORMAL, Action.APPS_EDIT)
    error = caught.value
    assert isinstance(error, PermissionError)
    assert (error.role, error.action) == ("normal", "apps.edit")
    assert error.message == "a workspace 'normal' may not do 'apps.edit' (it is for: admin, editor, owner)"


def test_an_unknown_role_may_do_nothing_and_an_unknown_action_is_a_bug() -> None:
    assert not allowed("superuser", Action.MEMBERS_VIEW)
    with pytest.raises(PermissionDenied, match=r"'superuser' may not do 'members.view'"):
        require("superuser", Action.MEMBERS_VIEW)
    with pytest.raises(ValueError, match=r"'apps.fly' is not a workspace action"):
        allowed(OWNER, "apps.fly")


def test_role_parse_names_the_field_and_the_roles() -> None:
    assert Role.parse("dataset_operator") is DATASET_OPERATOR
    with pytest.raises(UnknownRole, match=r"^members\[0\].role: 'member' is not a workspace role \(one of owner, "):
        Role.parse("member", field="members[0].role")


def test_owners_and_admins_invite_to_any_role_but_owner() -> None:
    for actor in (OWNER, ADMIN):
        for role in (ADMIN, EDITOR, NORMAL, DATASET_OPERATOR):
            require_invite(actor, role)
        with pytest.raises(PermissionDenied, match="nobody is invited as owner"):
            require_invite(actor, OWNER)
    with pytest.raises(PermissionDenied, match=r"'editor' may not do 'members.invite'"):
        require_invite(EDITOR, NORMAL)


def test_only_the_owner_changes_roles_and_ownership_is_not_transferable() -> None:
    require_role_change(OWNER, EDITOR, ADMIN, is_self=False)
    require_role_change(OWNER, ADMIN, DATASET_OPERATOR, is_self=False)
    with pytest.raises(PermissionDenied, match=r"'admin' may not do 'members.change_role'"):
        require_role_change(ADMIN, EDITOR, NORMAL, is_self=False)
    with pytest.raises(PermissionDenied, match="ownership cannot be transferred"):
        require_role_change(OWNER, ADMIN, OWNER, is_self=False)
    with pytest.raises(PermissionDenied, match="cannot change their own role"):
        require_role_change(OWNER, OWNER, ADMIN, is_self=True)


def test_only_the_owner_removes_members_and_never_itself() -> None:
    require_member_removal(OWNER, ADMIN, is_self=False)
    with pytest.raises(PermissionDenied, match=r"'admin' may not do 'members.remove'"):
        require_member_removal(ADMIN, NORMAL, is_self=False)
    with pytest.raises(PermissionDenied, match="the owner cannot be removed"):
        require_member_removal(OWNER, OWNER, is_self=True)
