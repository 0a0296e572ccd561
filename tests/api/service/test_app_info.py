"""What a client learns about its app over HTTP: parameters, info, meta, site, and its end users
(API-APP-PARAMS, API-APP-INFO, API-APP-META, API-APP-SITE, API-ENDUSER-GET, API-COMMON-TS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from support.service_api import ServiceApi, service_api
from treadle.files import UploadLimits
from treadle.store import Account, App, EndUser, Tenant

WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Clock, description: Tells the time}
workflow:
  features:
    file_upload:
      enabled: true
      allowed_file_types: [image, document]
      allowed_file_upload_methods: [local_file, remote_url]
      number_limits: 4
    text_to_speech: {enabled: true, voice: alto, language: en-US, autoPlay: enabled}
  graph:
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {variable: city, label: City, type: text-input, required: true, max_length: 48}
        - {variable: style, label: Style, type: select, required: false, options: [short, long], default: short}
        - {variable: notes, label: Notes, type: paragraph, required: false}
    - id: now
      data:
        type: tool
        title: Now
        provider_type: builtin
        provider_id: time
        provider_name: time
        tool_name: current_time
        tool_parameters: {}
        tool_configurations: {format: "%H:%M", timezone: UTC}
    - id: end
      data: {type: end, title: End, outputs: [{variable: time, value_selector: [now, text]}]}
    edges:
    - {id: e1, source: start, target: now}
    - {id: e2, source: now, target: end}
"""

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Greeter, icon: "🦜", icon_background: "#E4FBCC"}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "Greet {{name}}"
  opening_statement: Hello! Who are you?
  suggested_questions: [Who are you?, What can you do?]
  suggested_questions_after_answer: {enabled: true}
  speech_to_text: {enabled: true}
  retriever_resource: {enabled: true}
  user_input_form:
  - {text-input: {variable: name, label: Name, required: true, max_length: 20, default: ""}}
  - {number: {variable: age, label: Age, required: false}}
"""

APPS = {"workflow": WORKFLOW, "chat": CHAT}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


async def get(api: ServiceApi, app: str, path: str) -> dict[str, object]:
    response = await api.client.get(path, headers=api.auth(app))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_workflow_parameters_give_the_start_form_the_features_and_the_upload_limits(api: ServiceApi) -> None:
    """API-APP-PARAMS for a workflow app: the Start node's variables in Dify's ``user_input_form``
    shape, the feature switches, and system_parameters from the upload limits."""
    body = await get(api, "workflow", "/parameters")
    assert set(body) >= {
        "opening_statement", "suggested_questions", "suggested_questions_after_answer", "speech_to_text",
        "text_to_speech", "retriever_resource", "annotation_reply", "more_like_this", "sensitive_word_avoidance",
        "user_input_form", "file_upload", "system_parameters",
    }
    assert body["user_input_form"] == [
        {"text-input": {"variable": "city", "label": "City", "type": "text-input", "required": True, "max_length": 48}},
        {"select": {"variable": "style", "label": "Style", "type": "select", "required": False,
                    "options": ["short", "long"], "default": "short"}},
        {"paragraph": {"variable": "notes", "label": "Notes", "type": "paragraph", "required": False}},
    ]
    assert body["text_to_speech"] == {"enabled": True, "voice": "alto", "language": "en-US", "autoPlay": "enabled"}
    assert body["speech_to_text"] == {"enabled": False}
    upload = body["file_upload"]
    assert isinstance(upload, dict)
    assert upload["enabled"] is True and upload["number_limits"] == 4
    assert upload["image"]["enabled"] is True
    assert body["system_parameters"] == {
        "file_size_limit": 15, "image_file_size_limit": 10, "audio_file_size_limit": 50,
        "video_file_size_limit": 100, "workflow_file_upload_limit": 10,
    }


async def test_system_parameters_follow_the_servers_upload_limits(api: ServiceApi) -> None:
    api.state.files.limits = UploadLimits(file_size_mb=3, image_file_size_mb=2, workflow_file_upload_limit=7)
    body = await get(api, "chat", "/parameters")
    assert body["system_parameters"] == {
        "file_size_limit": 3, "image_file_size_limit": 2, "audio_file_size_limit": 50,
        "video_file_size_limit": 100, "workflow_file_upload_limit": 7,
    }


async def test_chat_parameters_give_the_model_config_form_and_features(api: ServiceApi) -> None:
    """API-APP-PARAMS for a chat app: ``user_input_form`` as its model_config holds it, with the
    opening statement and the switches."""
    body = await get(api, "chat", "/parameters")
    assert body["user_input_form"] == [
        {"text-input": {"variable": "name", "label": "Name", "required": True, "max_length": 20, "default": ""}},
        {"number": {"variable": "age", "label": "Age", "required": False}},
    ]
    assert body["opening_statement"] == "Hello! Who are you?"
    assert body["suggested_questions"] == ["Who are you?", "What can you do?"]
    assert body["suggested_questions_after_answer"] == {"enabled": True}
    assert body["speech_to_text"] == {"enabled": True}
    assert body["retriever_resource"] == {"enabled": True}
    assert body["text_to_speech"]["enabled"] is False  # type: ignore[index]
    assert body["more_like_this"] == {"enabled": False}


async def test_parameters_of_an_unpublished_workflow_app_are_app_unavailable(api: ServiceApi) -> None:
    await api.add_app("draft", WORKFLOW, publish=False)
    response = await api.client.get("/parameters", headers=api.auth("draft"))
    assert response.status_code == 400
    assert response.json()["code"] == "app_unavailable"


async def test_info_gives_name_description_tags_mode_and_author(api: ServiceApi) -> None:
    """API-APP-INFO: {name, description, tags, mode, author_name}; the author is the account that
    made the app (none for an app made without one)."""
    body = await get(api, "workflow", "/info")
    assert body == {"name": "workflow", "description": "Tells the time", "tags": [], "mode": "workflow",
                    "author_name": None}
    async with api.db.session() as session:
        owner = await session.scalar(select(Account))
        assert owner is not None
        owner_id, owner_name = owner.id, owner.name
    manager = api.manager(api.tenant_id)
    app = await manager.import_dsl(CHAT, name="Authored", created_by=owner_id)
    key = await manager.create_api_key(app.id)
    response = await api.client.get("/info", headers={"Authorization": f"Bearer {key.token}"})
    assert response.json() == {"name": "Authored", "description": "", "tags": [], "mode": "chat",
                               "author_name": owner_name}


async def test_meta_gives_the_icons_of_the_tools_the_app_uses(api: ServiceApi) -> None:
    """API-APP-META: built-in tools by their icon URL; an app without tools has none."""
    icon = "/console/api/workspaces/current/tool-provider/builtin/langgenius/time/time/icon"
    assert await get(api, "workflow", "/meta") == {"tool_icons": {"current_time": icon}}
    assert await get(api, "chat", "/meta") == {"tool_icons": {}}


AGENT = """\
version: 0.3.0
kind: app
app: {mode: agent-chat, name: Helper}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  user_input_form: []
  agent_mode:
    enabled: true
    strategy: function_call
    tools:
    - {provider_type: builtin, provider_id: time, provider_name: time, tool_name: current_time, tool_parameters: {}}
    - {provider_type: api, provider_id: weather, provider_name: weather, tool_name: forecast, tool_parameters: {}}
    - {provider_type: api, provider_id: gone, provider_name: gone, tool_name: vanished, tool_parameters: {}}
"""

WEATHER_SPEC = {
    "openapi": "3.0.0",
    "info": {"title": "Weather", "version": "1"},
    "servers": [{"url": "https://weather.example.com"}],
    "paths": {"/forecast": {"get": {"operationId": "forecast", "summary": "The forecast", "responses": {}}}},
}


async def test_meta_gives_custom_tools_their_providers_icon(api: ServiceApi) -> None:
    """API-APP-META: an API tool's icon is its provider's ``{background, content}``; a provider
    without one (or gone) gets Dify's default icon."""
    await api.supervisor.api_tools.save_provider(
        api.tenant_id, "weather", WEATHER_SPEC, icon='{"background": "#FFF4ED", "content": "\U0001f326"}'
    )
    await api.add_app("agent", AGENT)
    body = await get(api, "agent", "/meta")
    assert body == {"tool_icons": {
        "current_time": "/console/api/workspaces/current/tool-provider/builtin/time/icon",
        "forecast": {"background": "#FFF4ED", "content": "\U0001f326"},
        "vanished": {"background": "#252525", "content": "\U0001f601"},
    }}


async def test_site_answers_the_web_app_settings_with_defaults_from_the_app(api: ServiceApi) -> None:
    """API-APP-SITE: every documented field; without site settings, the app's name and icon."""
    body = await get(api, "chat", "/site")
    assert body == {
        "title": "chat",
        "chat_color_theme": None,
        "chat_color_theme_inverted": False,
        "icon_type": "emoji",
        "icon": "🦜",
        "icon_background": "#E4FBCC",
        "icon_url": None,
        "description": "",
        "copyright": None,
        "privacy_policy": None,
        "custom_disclaimer": "",
        "default_language": "en-US",
        "show_workflow_steps": True,
        "use_icon_as_answer_icon": False,
    }


async def test_site_reflects_the_apps_site_settings_and_signs_an_image_icon(api: ServiceApi) -> None:
    uploaded = await api.client.post(
        "/files/upload", headers=api.auth("chat"), files={"file": ("logo.png", b"\x89PNG-logo", "image/png")}
    )
    assert uploaded.status_code == 201, uploaded.text
    icon_id = uploaded.json()["id"]
    settings = {
        "title": "Greeter Web", "chat_color_theme": "#1C64F2", "chat_color_theme_inverted": True,
        "icon_type": "image", "icon": icon_id, "description": "Says hello", "copyright": "ACME",
        "privacy_policy": "https://example.com/privacy", "custom_disclaimer": "Be kind",
        "default_language": "fr-FR", "show_workflow_steps": False, "use_icon_as_answer_icon": True,
    }
    async with api.db.session() as session:
        await session.execute(update(App).where(App.id == api.apps["chat"]).values(site=settings))
    api.state.forget_app(api.apps["chat"])
    body = await get(api, "chat", "/site")
    icon_url = body.pop("icon_url")
    assert body == {**settings, "icon_background": "#E4FBCC"}
    assert isinstance(icon_url, str) and icon_url.startswith(f"/files/{icon_id}/image-preview?")
    image = await api.client.get("http://treadle.test" + icon_url)
    assert image.status_code == 200 and image.content == b"\x89PNG-logo"


async def test_site_of_an_archived_workspace_is_forbidden(api: ServiceApi) -> None:
    async with api.db.session() as session:
        await session.execute(update(Tenant).where(Tenant.id == api.tenant_id).values(status="archive"))
    response = await api.client.get("/site", headers=api.auth("chat"))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_an_end_user_of_the_app_is_found_by_id(api: ServiceApi) -> None:
    """API-ENDUSER-GET: the end user an upload names as created_by; ISO timestamps (API-COMMON-TS)."""
    uploaded = await api.client.post(
        "/files/upload", headers=api.auth("chat"), files={"file": ("a.txt", b"a", "text/plain")},
        data={"user": "alice@example.com"},
    )
    end_user_id = uploaded.json()["created_by"]
    body = await get(api, "chat", f"/end-users/{end_user_id}")
    created_at, updated_at = body.pop("created_at"), body.pop("updated_at")
    assert body == {
        "id": end_user_id, "tenant_id": api.tenant_id, "app_id": api.apps["chat"], "type": "service_api",
        "external_user_id": "alice@example.com", "name": None, "is_anonymous": False,
        "session_id": "alice@example.com",
    }
    async with api.db.session() as session:
        row = await session.get(EndUser, end_user_id)
        assert row is not None
    assert datetime.fromisoformat(str(created_at)) == row.created_at
    assert datetime.fromisoformat(str(updated_at)) == row.updated_at


async def test_end_users_of_other_apps_and_unknown_ids_are_not_found(api: ServiceApi) -> None:
    """API-ENDUSER-GET: 404 end_user_not_found, also for another app's end user."""
    uploaded = await api.client.post(
        "/files/upload", headers=api.auth("chat"), files={"file": ("a.txt", b"a", "text/plain")}, data={"user": "bob"}
    )
    end_user_id = uploaded.json()["created_by"]
    other = await api.client.get(f"/end-users/{end_user_id}", headers=api.auth("workflow"))
    assert other.status_code == 404 and other.json()["code"] == "end_user_not_found"
    unknown = await api.client.get("/end-users/not-an-id", headers=api.auth("chat"))
    assert unknown.status_code == 404 and unknown.json()["code"] == "end_user_not_found"
