"""Members of the current workspace: invitations (with a generated password shown once), role changes
and removal, as the roles matrix allows, keeping exactly one owner (WS-MEMBERS-ROLES)."""

from __future__ import annotations

from sqlalchemy import func, select
from treadle.runtime import DEFAULT_OWNER_EMAIL
from treadle.store import Account, TenantMember

from .conftest import Console, error_of

INVITE = "/workspaces/current/members/invite-email"


async def test_the_owner_invites_a_new_account_which_can_sign_in(console: Console) -> None:
    owner = await console.login()
    response = await console.client.post(
        INVITE, headers=owner, json={"emails": ["New.Person@Example.com", "new.person@example.com"], "role": "editor"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["result"] == "success" and body["tenant_id"] == console.api.tenant_id
    [result] = body["invitation_results"]
    assert result["status"] == "success" and result["email"] == "new.person@example.com"
    password = result["password"]
    assert len(password) >= 8

    async with console.api.db.session() as session:
        account = await session.scalar(select(Account).where(Account.email == "new.person@example.com"))
        assert account is not None and account.password_hash is not None and password not in account.password_hash
        role = await session.scalar(select(TenantMember.role).where(TenantMember.account_id == account.id))
    assert role == "editor"

    editor = await console.login("new.person@example.com", password)
    current = await console.client.get("/workspaces/current", headers=editor)
    assert current.json()["role"] == "editor"
    listed = await console.client.get("/workspaces/current/members", headers=editor)
    assert listed.status_code == 200
    roles = {a["email"]: a["role"] for a in listed.json()["accounts"]}
    assert roles == {DEFAULT_OWNER_EMAIL: "owner", "new.person@example.com": "editor"}


async def test_inviting_an_existing_account_adds_it_without_a_password(console: Console) -> None:
    owner = await console.login()
    await console.member(owner, "normal", "existing@example.com")
    again = await console.client.post(INVITE, headers=owner, json={"emails": ["existing@example.com"], "role": "admin"})
    assert again.json()["invitation_results"][0]["status"] == "failed"
    # The same account joins another workspace without a new password.
    other = await console.other_workspace(role="admin")
    switched = await console.client.post("/workspaces/switch", headers=owner, json={"tenant_id": other})
    admin_there = {"Authorization": f"Bearer {switched.json()['data']['access_token']}"}
    console.client.cookies.clear()
    joined = await console.client.post(
        INVITE, headers=admin_there, json={"emails": ["existing@example.com"], "role": "normal"}
    )
    result = joined.json()["invitation_results"][0]
    assert result["status"] == "success" and "password" not in result


async def test_invitations_are_checked(console: Console) -> None:
    owner = await console.login()
    as_owner = await console.client.post(INVITE, headers=owner, json={"emails": ["x@example.com"], "role": "owner"})
    assert as_owner.status_code == 403 and error_of(as_owner)["code"] == "forbidden"
    unknown = await console.client.post(INVITE, headers=owner, json={"emails": ["x@example.com"], "role": "boss"})
    assert unknown.status_code == 400 and "boss" in error_of(unknown)["message"]
    bad_email = await console.client.post(INVITE, headers=owner, json={"emails": ["not-an-email"], "role": "normal"})
    assert bad_email.status_code == 400 and "emails[0]" in error_of(bad_email)["message"]
    for role in ("editor", "normal", "dataset_operator"):
        headers = await console.member(owner, role)
        invite = {"emails": ["y@example.com"], "role": "normal"}
        refused = await console.client.post(INVITE, headers=headers, json=invite)
        assert refused.status_code == 403, role
    async with console.api.db.session() as session:
        assert await session.scalar(select(Account.id).where(Account.email == "y@example.com")) is None


async def test_only_the_owner_changes_roles_and_never_the_owners(console: Console) -> None:
    owner = await console.login()
    admin = await console.member(owner, "admin")
    await console.member(owner, "editor")
    async with console.api.db.session() as session:
        ids = {email: id_ for email, id_ in (await session.execute(select(Account.email, Account.id))).all()}
    editor_id, owner_id = ids["editor@example.com"], ids[DEFAULT_OWNER_EMAIL]

    def path(account_id: str) -> str:
        return f"/workspaces/current/members/{account_id}/update-role"

    changed = await console.client.put(path(editor_id), headers=owner, json={"role": "normal"})
    assert changed.status_code == 200, changed.text
    async with console.api.db.session() as session:
        role = await session.scalar(select(TenantMember.role).where(TenantMember.account_id == editor_id))
    assert role == "normal"

    by_admin = await console.client.put(path(editor_id), headers=admin, json={"role": "editor"})
    assert by_admin.status_code == 403
    own = await console.client.put(path(owner_id), headers=owner, json={"role": "admin"})
    assert own.status_code == 403
    to_owner = await console.client.put(path(editor_id), headers=owner, json={"role": "owner"})
    assert to_owner.status_code == 403 and "owner" in error_of(to_owner)["message"]
    missing = await console.client.put(path("no-such-member"), headers=owner, json={"role": "normal"})
    assert missing.status_code == 404
    async with console.api.db.session() as session:
        owners = await session.scalar(
            select(func.count()).select_from(TenantMember).where(TenantMember.role == "owner")
        )
    assert owners == 1


async def test_the_owner_removes_members_who_then_lose_access(console: Console) -> None:
    owner = await console.login()
    editor = await console.member(owner, "editor")
    admin = await console.member(owner, "admin")
    async with console.api.db.session() as session:
        ids = {email: id_ for email, id_ in (await session.execute(select(Account.email, Account.id))).all()}

    by_admin = await console.client.delete(f"/workspaces/current/members/{ids['editor@example.com']}", headers=admin)
    assert by_admin.status_code == 403
    self_removal = await console.client.delete(f"/workspaces/current/members/{ids[DEFAULT_OWNER_EMAIL]}", headers=owner)
    assert self_removal.status_code == 403

    removed = await console.client.delete(f"/workspaces/current/members/{ids['editor@example.com']}", headers=owner)
    assert removed.status_code == 204
    async with console.api.db.session() as session:
        left = await session.scalar(select(TenantMember.id).where(TenantMember.account_id == ids["editor@example.com"]))
    assert left is None
    denied = await console.client.get("/apps", headers=editor)
    assert denied.status_code == 403 and error_of(denied)["code"] == "forbidden"
    again = await console.client.delete(f"/workspaces/current/members/{ids['editor@example.com']}", headers=owner)
    assert again.status_code == 404
