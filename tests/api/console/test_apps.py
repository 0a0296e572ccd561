"""Apps of the current workspace over the console: import from DSL, list, read, export, publish,
versions, restore, delete, and Service API keys, with the roles matrix and workspace scoping
(APP-TYPES, WS-APP-MGMT, VC-DRAFT-PUBLISH, VC-HISTORY, VC-MANAGE, WS-MEMBERS-ROLES)."""

from __future__ import annotations

import httpx
import yaml
from sqlalchemy import select
from treadle.store import ApiKey, App, Workflow

from .conftest import CHAT, WORKFLOW, Console, error_of


async def _import(console: Console, headers: dict[str, str], dsl: str, **extra: str) -> str:
    response = await console.client.post(
        "/apps/imports", headers=headers, json={"mode": "yaml-content", "yaml_content": dsl, **extra}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed" and body["imported_dsl_version"] == "0.3.0"
    app_id: str = body["app_id"]
    return app_id


async def _service_run(console: Console, token: str) -> httpx.Response:
    return await console.api.client.post(
        "/workflows/run", headers={"Authorization": f"Bearer {token}"}, json={"inputs": {"text": "hi"}, "user": "u1"}
    )


async def test_import_list_and_read_apps(console: Console) -> None:
    owner = await console.login()
    flow = await _import(console, owner, WORKFLOW)
    chat = await _import(console, owner, CHAT, name="My chat", description="Says things")
    async with console.api.db.session() as session:
        row = await session.get(App, chat)
    assert row is not None and row.name == "My chat" and row.description == "Says things"

    listed = await console.client.get("/apps", headers=owner)
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 2 and body["page"] == 1 and body["has_more"] is False
    assert {a["id"]: a["mode"] for a in body["data"]} == {flow: "workflow", chat: "chat"}
    only_chat = (await console.client.get("/apps", headers=owner, params={"mode": "chat"})).json()
    assert [a["id"] for a in only_chat["data"]] == [chat]
    by_name = (await console.client.get("/apps", headers=owner, params={"name": "shou"})).json()
    assert [a["id"] for a in by_name["data"]] == [flow]
    paged = (await console.client.get("/apps", headers=owner, params={"limit": 1, "page": 2})).json()
    assert len(paged["data"]) == 1 and paged["total"] == 2 and paged["has_more"] is False

    detail = await console.client.get(f"/apps/{chat}", headers=owner)
    assert detail.status_code == 200
    assert detail.json()["model_config"]["pre_prompt"] == "You are terse."
    assert detail.json()["api_base_url"] == "http://treadle.test/v1"
    assert isinstance(detail.json()["created_at"], int)

    bad_mode = await console.client.get("/apps", headers=owner, params={"mode": "robot"})
    assert bad_mode.status_code == 400 and error_of(bad_mode)["code"] == "invalid_param"
    bad_limit = await console.client.get("/apps", headers=owner, params={"limit": 0})
    assert bad_limit.status_code == 400 and "limit" in error_of(bad_limit)["message"]


async def test_an_import_with_problems_is_400_naming_each_dsl_path(console: Console) -> None:
    owner = await console.login()
    broken = WORKFLOW.replace("target: end}", "target: ghost}").replace("type: template-transform", "type: no-such")
    response = await console.client.post(
        "/apps/imports", headers=owner, json={"mode": "yaml-content", "yaml_content": broken}
    )
    assert response.status_code == 400, response.text
    body = error_of(response)
    assert body["problems"] and all("path" in p and "message" in p for p in body["problems"])
    assert "workflow.graph.edges[1].target" in [p["path"] for p in body["problems"]], body["problems"]
    not_a_dsl = await console.client.post(
        "/apps/imports", headers=owner, json={"mode": "yaml-content", "yaml_content": "- just a list"}
    )
    assert not_a_dsl.status_code == 400 and error_of(not_a_dsl)["problems"]
    by_url = await console.client.post("/apps/imports", headers=owner, json={"mode": "yaml-url", "yaml_url": "x"})
    assert by_url.status_code == 400 and "yaml-content" in error_of(by_url)["message"]
    async with console.api.db.session() as session:
        assert list(await session.scalars(select(App.id))) == []


async def test_publish_versions_restore_and_export(console: Console) -> None:
    owner = await console.login()
    app_id = await _import(console, owner, WORKFLOW)
    published = await console.client.post(
        f"/apps/{app_id}/workflows/publish", headers=owner, json={"marked_name": "v1", "marked_comment": "first"}
    )
    assert published.status_code == 200, published.text
    version = published.json()
    assert version["result"] == "success" and version["marked_name"] == "v1"
    async with console.api.db.session() as session:
        app = await session.get(App, app_id)
    assert app is not None and app.workflow_id == version["id"]

    listed = (await console.client.get(f"/apps/{app_id}/workflows", headers=owner)).json()
    assert [v["version"] == "draft" for v in listed["items"]] == [True, False]
    assert listed["items"][1]["id"] == version["id"] and listed["items"][1]["current"] is True
    named = (await console.client.get(f"/apps/{app_id}/workflows", headers=owner, params={"named_only": "true"})).json()
    assert [v["id"] for v in named["items"]] == [version["id"]]

    # Change the draft, then restore the published version into it.
    async with console.api.db.session() as session:
        draft = await session.scalar(select(Workflow).where(Workflow.app_id == app_id, Workflow.version == "draft"))
        assert draft is not None
        draft.graph = {**draft.graph, "nodes": draft.graph["nodes"][:1]}
    restored = await console.client.post(f"/apps/{app_id}/workflows/{version['id']}/restore", headers=owner)
    assert restored.status_code == 200, restored.text
    async with console.api.db.session() as session:
        draft = await session.scalar(select(Workflow).where(Workflow.app_id == app_id, Workflow.version == "draft"))
    assert draft is not None and len(draft.graph["nodes"]) == 3
    unknown = await console.client.post(f"/apps/{app_id}/workflows/not-a-version/restore", headers=owner)
    assert unknown.status_code == 404

    exported = await console.client.get(f"/apps/{app_id}/export", headers=owner)
    assert exported.status_code == 200
    document = yaml.safe_load(exported.json()["data"])
    assert document["app"]["mode"] == "workflow"
    assert document["workflow"]["environment_variables"][0]["value"] == ""
    with_secret = await console.client.get(f"/apps/{app_id}/export", headers=owner, params={"include_secret": "true"})
    assert yaml.safe_load(with_secret.json()["data"])["workflow"]["environment_variables"][0]["value"] == "s3cret-value"

    chat = await _import(console, owner, CHAT)
    not_graph = await console.client.post(f"/apps/{chat}/workflows/publish", headers=owner, json={})
    assert not_graph.status_code == 400 and error_of(not_graph)["code"] == "not_workflow_app"
    too_long = await console.client.post(
        f"/apps/{app_id}/workflows/publish", headers=owner, json={"marked_name": "x" * 21}
    )
    assert too_long.status_code == 400 and "marked_name" in error_of(too_long)["message"]


async def test_api_keys_are_shown_once_and_work_on_the_service_api_until_deleted(console: Console) -> None:
    owner = await console.login()
    app_id = await _import(console, owner, WORKFLOW)
    await console.client.post(f"/apps/{app_id}/workflows/publish", headers=owner, json={})
    made = await console.client.post(f"/apps/{app_id}/api-keys", headers=owner)
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["token"].startswith("app-") and len(key["token"]) == 28 and key["type"] == "app"

    run = await _service_run(console, key["token"])
    assert run.status_code == 200, run.text
    assert run.json()["data"]["outputs"] == {"shout": "HI!"}

    listed = (await console.client.get(f"/apps/{app_id}/api-keys", headers=owner)).json()["data"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert listed[0]["token"] != key["token"] and listed[0]["token"].endswith(key["token"][-4:])
    assert isinstance(listed[0]["last_used_at"], int)

    deleted = await console.client.delete(f"/apps/{app_id}/api-keys/{key['id']}", headers=owner)
    assert deleted.status_code == 204
    assert (await _service_run(console, key["token"])).status_code == 401
    async with console.api.db.session() as session:
        assert await session.get(ApiKey, key["id"]) is None
    assert (await console.client.delete(f"/apps/{app_id}/api-keys/{key['id']}", headers=owner)).status_code == 404

    for _ in range(10):
        assert (await console.client.post(f"/apps/{app_id}/api-keys", headers=owner)).status_code == 201
    eleventh = await console.client.post(f"/apps/{app_id}/api-keys", headers=owner)
    assert eleventh.status_code == 400 and error_of(eleventh)["code"] == "max_keys_exceeded"


async def test_deleting_an_app_removes_it_and_its_keys(console: Console) -> None:
    owner = await console.login()
    app_id = await _import(console, owner, WORKFLOW)
    await console.client.post(f"/apps/{app_id}/workflows/publish", headers=owner, json={})
    token = (await console.client.post(f"/apps/{app_id}/api-keys", headers=owner)).json()["token"]
    assert (await _service_run(console, token)).status_code == 200
    assert (await console.client.delete(f"/apps/{app_id}", headers=owner)).status_code == 204
    assert (await console.client.get(f"/apps/{app_id}", headers=owner)).status_code == 404
    assert (await _service_run(console, token)).status_code == 401
    async with console.api.db.session() as session:
        assert await session.get(App, app_id) is None


async def test_roles_decide_what_a_member_may_do_with_apps(console: Console) -> None:
    owner = await console.login()
    app_id = await _import(console, owner, WORKFLOW)
    normal = await console.member(owner, "normal")
    editor = await console.member(owner, "editor")
    operator = await console.member(owner, "dataset_operator")

    assert (await console.client.get("/apps", headers=normal)).status_code == 200
    assert (await console.client.get(f"/apps/{app_id}", headers=normal)).status_code == 200
    for method, path in [
        ("POST", "/apps/imports"),
        ("POST", f"/apps/{app_id}/workflows/publish"),
        ("GET", f"/apps/{app_id}/export"),
        ("GET", f"/apps/{app_id}/api-keys"),
        ("DELETE", f"/apps/{app_id}"),
    ]:
        refused = await console.client.request(method, path, headers=normal, json={})
        assert refused.status_code == 403, (method, path)
        assert error_of(refused)["code"] == "forbidden"
    assert (await console.client.get("/apps", headers=operator)).status_code == 403

    assert (await console.client.post(f"/apps/{app_id}/workflows/publish", headers=editor, json={})).status_code == 200
    key = (await console.client.post(f"/apps/{app_id}/api-keys", headers=editor)).json()
    # Removing a key is for owners and admins.
    assert (await console.client.delete(f"/apps/{app_id}/api-keys/{key['id']}", headers=editor)).status_code == 403
    assert (await console.client.delete(f"/apps/{app_id}/api-keys/{key['id']}", headers=owner)).status_code == 204


async def test_another_workspaces_app_is_not_found(console: Console) -> None:
    owner = await console.login()
    other = await console.other_workspace()
    foreign = await console.api.add_app("foreign", WORKFLOW, tenant_id=other)
    for method, path in [
        ("GET", f"/apps/{foreign}"),
        ("GET", f"/apps/{foreign}/export"),
        ("GET", f"/apps/{foreign}/workflows"),
        ("POST", f"/apps/{foreign}/workflows/publish"),
        ("GET", f"/apps/{foreign}/api-keys"),
        ("POST", f"/apps/{foreign}/api-keys"),
        ("DELETE", f"/apps/{foreign}"),
        ("GET", f"/apps/{foreign}/workflow-runs"),
    ]:
        response = await console.client.request(method, path, headers=owner, json={})
        assert response.status_code == 404, (method, path, response.text)
    async with console.api.db.session() as session:
        assert await session.get(App, foreign) is not None
