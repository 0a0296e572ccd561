"""Console: the workspace's API-based extensions and its knowledge API keys (FEAT-MODERATION API
extension kind, API-COMMON-AUTH knowledge keys, WS-MEMBERS-ROLES)."""

from __future__ import annotations

from sqlalchemy import select
from support.extension_server import KEY, ExtensionServer
from treadle.store import ApiKey
from treadle.tenancy import api_key_digest

from .conftest import Console, error_of


async def test_extensions_are_saved_after_ping_and_shown_masked(console: Console) -> None:
    owner = await console.login()
    with ExtensionServer() as server:
        made = await console.client.post("/api-based-extension", headers=owner, json={
            "name": "moderator", "api_endpoint": server.url_for("/moderate"), "api_key": KEY})
        assert made.status_code == 201, made.text
        view = made.json()
        assert view["api_key"] != KEY and "*" in view["api_key"]
        listed = await console.client.get("/api-based-extension", headers=owner)
        assert [e["id"] for e in listed.json()] == [view["id"]]
        renamed = await console.client.post(f"/api-based-extension/{view['id']}", headers=owner, json={
            "name": "renamed", "api_endpoint": server.url_for("/moderate"), "api_key": view["api_key"]})
        assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
        refused = await console.client.post("/api-based-extension", headers=owner, json={
            "name": "wrong", "api_endpoint": server.url_for("/moderate"), "api_key": "not-the-key"})
        assert refused.status_code == 400 and "401" in error_of(refused)["message"]
        normal = await console.member(owner, "normal")
        forbidden = await console.client.post("/api-based-extension", headers=normal, json={
            "name": "mine", "api_endpoint": server.url_for("/moderate"), "api_key": KEY})
        assert forbidden.status_code == 403
    gone = await console.client.delete(f"/api-based-extension/{view['id']}", headers=owner)
    assert gone.status_code == 204
    missing = await console.client.get(f"/api-based-extension/{view['id']}", headers=owner)
    assert missing.status_code == 404


async def test_knowledge_keys_are_shown_once_and_stored_as_digests(console: Console) -> None:
    owner = await console.login()
    made = await console.client.post("/datasets/api-keys", headers=owner)
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert token.startswith("dataset-")
    listed = (await console.client.get("/datasets/api-keys", headers=owner)).json()["data"]
    assert [k["id"] for k in listed] == [made.json()["id"]] and listed[0]["token"] != token
    async with console.api.db.session() as session:
        stored = await session.scalar(select(ApiKey.token_hash).where(ApiKey.id == made.json()["id"]))
    assert stored == api_key_digest(token)
    editor = await console.member(owner, "editor")
    assert (await console.client.post("/datasets/api-keys", headers=editor)).status_code == 403  # admins only
    normal = await console.member(owner, "normal")
    assert (await console.client.get("/datasets/api-keys", headers=normal)).status_code == 403
    deleted = await console.client.delete(f"/datasets/api-keys/{made.json()['id']}", headers=owner)
    assert deleted.status_code == 204
    assert (await console.client.delete(f"/datasets/api-keys/{made.json()['id']}", headers=owner)).status_code == 404
