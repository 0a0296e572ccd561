"""The signed-in account's workspaces: listing, the current one with its role, and switching, after
which every lookup is scoped to the new workspace (WS-WORKSPACE, WS-MEMBERS-ROLES)."""

from __future__ import annotations

from sqlalchemy import select
from treadle.store import TenantMember

from .conftest import CHAT, Console, error_of


async def test_workspaces_lists_the_accounts_workspaces_and_marks_the_current(console: Console) -> None:
    owner = await console.login()
    other = await console.other_workspace(role="normal")
    await console.other_workspace(name="Not mine")  # the owner is no member of this one
    response = await console.client.get("/workspaces", headers=owner)
    assert response.status_code == 200, response.text
    listed = {w["id"]: w for w in response.json()["workspaces"]}
    assert set(listed) == {console.api.tenant_id, other}
    assert listed[console.api.tenant_id]["current"] is True and listed[other]["current"] is False
    assert isinstance(listed[other]["created_at"], int)

    current = await console.client.get("/workspaces/current", headers=owner)
    assert current.status_code == 200
    assert current.json()["id"] == console.api.tenant_id and current.json()["role"] == "owner"


async def test_switching_changes_the_current_workspace_and_scopes_lookups(console: Console) -> None:
    owner = await console.login()
    first_app = await console.api.add_app("chat", CHAT)
    other = await console.other_workspace(role="editor")

    response = await console.client.post("/workspaces/switch", headers=owner, json={"tenant_id": other})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "success" and body["new_tenant"]["id"] == other and body["new_tenant"]["role"] == "editor"
    assert "access_token=" in response.headers["set-cookie"]
    switched = {"Authorization": f"Bearer {body['data']['access_token']}"}
    console.client.cookies.clear()

    current = await console.client.get("/workspaces/current", headers=switched)
    assert current.json()["id"] == other and current.json()["role"] == "editor"
    # The first workspace's app is not found from the second.
    missing = await console.client.get(f"/apps/{first_app}", headers=switched)
    assert missing.status_code == 404 and error_of(missing)["code"] == "app_not_found"
    assert (await console.client.get("/apps", headers=switched)).json()["total"] == 0
    # The old session still acts in the first workspace.
    assert (await console.client.get(f"/apps/{first_app}", headers=owner)).status_code == 200
    # The switch is remembered for the next sign-in.
    async with console.api.db.session() as session:
        current_rows = list(await session.scalars(select(TenantMember.tenant_id).where(TenantMember.current)))
    assert current_rows == [other]
    again = await console.login()
    assert (await console.client.get("/workspaces/current", headers=again)).json()["id"] == other


async def test_switching_to_a_workspace_one_is_not_a_member_of_is_404(console: Console) -> None:
    owner = await console.login()
    foreign = await console.other_workspace(name="Foreign")
    response = await console.client.post("/workspaces/switch", headers=owner, json={"tenant_id": foreign})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    bad = await console.client.post("/workspaces/switch", headers=owner, json={})
    assert bad.status_code == 400 and "tenant_id" in error_of(bad)["message"]
