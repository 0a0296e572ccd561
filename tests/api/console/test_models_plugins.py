"""Model providers, their credentials and the default models, and the plugin table, over the console
(WS-MODEL-PROVIDERS, WS-MODEL-CREDENTIALS, WS-DEFAULT-MODELS, WS-PLUGINS, WS-MEMBERS-ROLES)."""

from __future__ import annotations

from .conftest import Console, error_of

PROVIDERS = "/workspaces/current/model-providers"
FAKE = f"{PROVIDERS}/fake/credentials"


async def test_providers_list_the_installed_ones_and_whether_credentials_are_set(console: Console) -> None:
    owner = await console.login()
    before = await console.client.get(PROVIDERS, headers=owner)
    assert before.status_code == 200, before.text
    fake = next(p for p in before.json()["data"] if p["provider"] == "fake")
    assert fake["custom_configuration"]["status"] == "no-configure"
    assert "llm" in fake["supported_model_types"]
    assert fake["provider_credential_schema"][0]["variable"] == "api_key"

    saved = await console.client.post(FAKE, headers=owner, json={"credentials": {"api_key": "sk-test-1234567890"}})
    assert saved.status_code == 201, saved.text
    credential_id = saved.json()["credential_id"]
    assert saved.json()["credentials"]["api_key"] != "sk-test-1234567890"

    normal = await console.member(owner, "normal")
    after = await console.client.get(PROVIDERS, headers=normal)
    fake = next(p for p in after.json()["data"] if p["provider"] == "fake")
    assert fake["custom_configuration"]["status"] == "active"
    assert fake["custom_configuration"]["current_credential_id"] == credential_id

    read = await console.client.get(FAKE, headers=owner)
    assert read.status_code == 200
    shown = read.json()
    assert shown["current_credential_id"] == credential_id
    assert shown["credentials"]["api_key"] == "sk-******890"
    assert "sk-test-1234567890" not in read.text


async def test_credentials_are_validated_on_save_and_only_admins_manage_them(console: Console) -> None:
    owner = await console.login()
    refused = await console.client.post(FAKE, headers=owner, json={"credentials": {"api_key": "invalid"}})
    assert refused.status_code == 400
    body = error_of(refused)
    assert body["code"] == "invalid_param" and body.get("params") == "api_key", body
    assert (await console.client.get(FAKE, headers=owner)).json()["available_credentials"] == []

    unknown = await console.client.post(
        f"{PROVIDERS}/nope/credentials", headers=owner, json={"credentials": {"api_key": "x"}}
    )
    assert unknown.status_code == 404 and "nope" in error_of(unknown)["message"]
    missing_body = await console.client.post(FAKE, headers=owner, json={})
    assert missing_body.status_code == 400 and "credentials" in error_of(missing_body)["message"]

    editor = await console.member(owner, "editor")
    for method in ("GET", "POST", "DELETE"):
        denied = await console.client.request(method, FAKE, headers=editor, json={"credentials": {"api_key": "k"}})
        assert denied.status_code == 403, method


async def test_deleting_and_switching_credentials(console: Console) -> None:
    owner = await console.login()
    first = (await console.client.post(FAKE, headers=owner, json={"credentials": {"api_key": "key-one-1234"}})).json()
    second = (
        await console.client.post(FAKE, headers=owner, json={"credentials": {"api_key": "key-two-1234"}, "name": "Two"})
    ).json()
    switched = await console.client.post(
        f"{FAKE}/switch", headers=owner, json={"credential_id": second["credential_id"]}
    )
    assert switched.status_code == 200
    assert (await console.client.get(FAKE, headers=owner)).json()["current_credential_name"] == "Two"

    deleted = await console.client.request(
        "DELETE", FAKE, headers=owner, json={"credential_id": first["credential_id"]}
    )
    assert deleted.status_code == 204
    left = (await console.client.get(FAKE, headers=owner)).json()["available_credentials"]
    assert [c["credential_id"] for c in left] == [second["credential_id"]]
    again = await console.client.delete(FAKE, headers=owner, params={"credential_id": first["credential_id"]})
    assert again.status_code == 404


async def test_default_models(console: Console) -> None:
    owner = await console.login()
    empty = await console.client.get("/workspaces/current/default-model", headers=owner, params={"model_type": "llm"})
    assert empty.status_code == 200 and empty.json() == {"data": None}

    body = {"model_settings": [{"model_type": "llm", "provider": "fake", "model": "echo"}]}
    saved = await console.client.post("/workspaces/current/default-model", headers=owner, json=body)
    assert saved.status_code == 200, saved.text
    normal = await console.member(owner, "normal")
    found = await console.client.get("/workspaces/current/default-model", headers=normal, params={"model_type": "llm"})
    data = found.json()["data"]
    assert data["model"] == "echo" and data["provider"]["provider"] == "fake"

    denied = await console.client.post("/workspaces/current/default-model", headers=normal, json=body)
    assert denied.status_code == 403
    wrong_model = {"model_settings": [{"model_type": "llm", "provider": "fake", "model": "nope"}]}
    bad = await console.client.post("/workspaces/current/default-model", headers=owner, json=wrong_model)
    assert bad.status_code == 404 and "nope" in error_of(bad)["message"]
    bad_type = await console.client.get("/workspaces/current/default-model", headers=owner, params={"model_type": "x"})
    assert bad_type.status_code == 400 and "model_type" in error_of(bad_type)["message"]

    cleared = await console.client.post(
        "/workspaces/current/default-model", headers=owner, json={"model_settings": [{"model_type": "llm"}]}
    )
    assert cleared.status_code == 200
    gone = await console.client.get("/workspaces/current/default-model", headers=owner, params={"model_type": "llm"})
    assert gone.json() == {"data": None}


async def test_plugins_lists_the_supervisors_table(console: Console) -> None:
    owner = await console.login()
    operator = await console.member(owner, "dataset_operator")
    response = await console.client.get("/workspaces/current/plugins", headers=operator)
    assert response.status_code == 200
    body = response.json()
    names = {row["name"] for row in body["plugins"]}
    assert {"fake", "core-nodes"} <= names and body["total"] == len(body["plugins"])
    fake = next(row for row in body["plugins"] if row["name"] == "fake")
    assert fake["isolation"] == "inline" and "model_provider:fake" in fake["registers"]
