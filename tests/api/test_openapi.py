"""The OpenAPI 3.1 documents of the Service API and the console API: valid against the OpenAPI 3.1
schema, served without a key, covering the endpoint table (spec section 1.2 without the Knowledge API
and the spec-only endpoints), with request bodies taken from the models the routes parse, and response
schemas that accept what the server really answers and refuse a field of the wrong type
(API-COMMON-AUTH, API-COMMON-ERR, API-COMMON-PAGE, API-COMMON-TS, API-SSE-*). The console document has
exactly one operation per console route, and every console answer on real data fits it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from starlette.routing import Mount, Route
from support.extension_server import KEY, ExtensionServer
from support.service_api import ServiceApi, service_api
from treadle.api.knowledge import knowledge_routes
from treadle.api.openapi import console_document, service_document
from treadle.api.service.requests import ChatMessageRequest
from treadle.api.service.routes import service_routes
from treadle.runtime import DEFAULT_OWNER_EMAIL

from .service.test_generation import APPS, sse_events

OWNER_PASSWORD = "Passw0rd-for-tests"

#: Every app endpoint of spec section 1.2 but the Knowledge API and the [spec only] ones (API-WF-EVENTS,
#: API-HITL-*): method, path, spec id.
ENDPOINT_TABLE = {
    ("post", "/completion-messages"): "API-COMPL-SEND",
    ("post", "/completion-messages/{task_id}/stop"): "API-COMPL-STOP",
    ("post", "/chat-messages"): "API-CHAT-SEND",
    ("post", "/chat-messages/{task_id}/stop"): "API-CHAT-STOP",
    ("get", "/messages/{message_id}/suggested"): "API-CHAT-SUGGEST",
    ("post", "/workflows/run"): "API-WF-RUN",
    ("post", "/workflows/{workflow_id}/run"): "API-WF-RUN-ID",
    ("post", "/workflows/tasks/{task_id}/stop"): "API-WF-STOP",
    ("get", "/workflows/run/{workflow_run_id}"): "API-WF-RUN-GET",
    ("get", "/workflows/logs"): "API-WF-LOGS",
    ("get", "/conversations"): "API-CONV-LIST",
    ("get", "/messages"): "API-MSG-LIST",
    ("get", "/conversations/{conversation_id}/variables"): "API-CONV-VARS",
    ("put", "/conversations/{conversation_id}/variables/{variable_id}"): "API-CONV-VAR-UPD",
    ("post", "/conversations/{conversation_id}/name"): "API-CONV-RENAME",
    ("delete", "/conversations/{conversation_id}"): "API-CONV-DEL",
    ("post", "/messages/{message_id}/feedbacks"): "API-FB-SUBMIT",
    ("get", "/app/feedbacks"): "API-FB-LIST",
    ("post", "/files/upload"): "API-FILE-UPLOAD",
    ("get", "/files/{file_id}/preview"): "API-FILE-PREVIEW",
    ("post", "/audio-to-text"): "API-AUDIO-STT",
    ("post", "/text-to-audio"): "API-AUDIO-TTS",
    ("get", "/end-users/{end_user_id}"): "API-ENDUSER-GET",
    ("get", "/info"): "API-APP-INFO",
    ("get", "/parameters"): "API-APP-PARAMS",
    ("get", "/meta"): "API-APP-META",
    ("get", "/site"): "API-APP-SITE",
    ("post", "/apps/annotations"): "API-ANN-CREATE",
    ("get", "/apps/annotations"): "API-ANN-LIST",
    ("put", "/apps/annotations/{annotation_id}"): "API-ANN-UPDATE",
    ("delete", "/apps/annotations/{annotation_id}"): "API-ANN-DELETE",
    ("post", "/apps/annotation-reply/{action}"): "API-ANN-REPLY-CFG",
    ("get", "/apps/annotation-reply/{action}/status/{job_id}"): "API-ANN-REPLY-STATUS",
}

_DOCUMENT = "/datasets/{dataset_id}/documents/{document_id}"
_SEGMENTS = _DOCUMENT + "/segments"
#: The Knowledge API (spec section 1.2, "Knowledge API"; the knowledge pipeline aside), with the older
#: underscore paths Dify still serves for creating and updating documents.
KNOWLEDGE_TABLE = {
    ("post", "/datasets"): "API-KB-CREATE",
    ("get", "/datasets"): "API-KB-LIST",
    ("get", "/datasets/{dataset_id}"): "API-KB-GET",
    ("patch", "/datasets/{dataset_id}"): "API-KB-UPDATE",
    ("delete", "/datasets/{dataset_id}"): "API-KB-DELETE",
    ("post", "/datasets/{dataset_id}/retrieve"): "API-KB-RETRIEVE",
    ("post", "/datasets/{dataset_id}/hit-testing"): "API-KB-RETRIEVE",
    ("post", "/datasets/{dataset_id}/document/create-by-text"): "API-DOC-CREATE-TEXT",
    ("post", "/datasets/{dataset_id}/document/create_by_text"): "API-DOC-CREATE-TEXT",
    ("post", "/datasets/{dataset_id}/document/create-by-file"): "API-DOC-CREATE-FILE",
    ("post", "/datasets/{dataset_id}/document/create_by_file"): "API-DOC-CREATE-FILE",
    ("get", "/datasets/{dataset_id}/documents"): "API-DOC-LIST",
    ("get", _DOCUMENT): "API-DOC-GET",
    ("delete", _DOCUMENT): "API-DOC-DELETE",
    ("get", _DOCUMENT + "/download"): "API-DOC-DOWNLOAD",
    ("post", "/datasets/{dataset_id}/documents/download-zip"): "API-DOC-ZIP",
    ("get", "/datasets/{dataset_id}/documents/{batch}/indexing-status"): "API-DOC-INDEX-STATUS",
    ("post", _DOCUMENT + "/update-by-text"): "API-DOC-UPDATE-TEXT",
    ("post", _DOCUMENT + "/update_by_text"): "API-DOC-UPDATE-TEXT",
    ("post", _DOCUMENT + "/update-by-file"): "API-DOC-UPDATE-FILE",
    ("post", _DOCUMENT + "/update_by_file"): "API-DOC-UPDATE-FILE",
    ("patch", "/datasets/{dataset_id}/documents/status/{action}"): "API-DOC-STATUS-BATCH",
    ("post", _SEGMENTS): "API-CHUNK-CREATE",
    ("get", _SEGMENTS): "API-CHUNK-LIST",
    ("get", _SEGMENTS + "/{segment_id}"): "API-CHUNK-GET",
    ("post", _SEGMENTS + "/{segment_id}"): "API-CHUNK-UPDATE",
    ("delete", _SEGMENTS + "/{segment_id}"): "API-CHUNK-DELETE",
    ("post", _SEGMENTS + "/{segment_id}/child_chunks"): "API-CHILD-CREATE",
    ("get", _SEGMENTS + "/{segment_id}/child_chunks"): "API-CHILD-LIST",
    ("patch", _SEGMENTS + "/{segment_id}/child_chunks/{child_chunk_id}"): "API-CHILD-UPDATE",
    ("delete", _SEGMENTS + "/{segment_id}/child_chunks/{child_chunk_id}"): "API-CHILD-DELETE",
    ("post", "/datasets/{dataset_id}/metadata"): "API-META-CREATE",
    ("get", "/datasets/{dataset_id}/metadata"): "API-META-LIST",
    ("patch", "/datasets/{dataset_id}/metadata/{metadata_id}"): "API-META-UPDATE",
    ("delete", "/datasets/{dataset_id}/metadata/{metadata_id}"): "API-META-DELETE",
    ("get", "/datasets/{dataset_id}/metadata/built-in"): "API-META-BUILTIN",
    ("post", "/datasets/{dataset_id}/metadata/built-in/{action}"): "API-META-BUILTIN-TOGGLE",
    ("post", "/datasets/{dataset_id}/documents/metadata"): "API-META-DOC-BATCH",
    ("post", "/datasets/tags"): "API-TAG-CREATE",
    ("get", "/datasets/tags"): "API-TAG-LIST",
    ("patch", "/datasets/tags"): "API-TAG-UPDATE",
    ("delete", "/datasets/tags"): "API-TAG-DELETE",
    ("post", "/datasets/tags/binding"): "API-TAG-BIND",
    ("post", "/datasets/tags/unbinding"): "API-TAG-UNBIND",
    ("get", "/datasets/{dataset_id}/tags"): "API-TAG-OF-KB",
    ("get", "/workspaces/current/models/model-types/{model_type}"): "API-MODELS",
}

_METHODS = {"get", "post", "put", "patch", "delete"}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    }


def validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A JSON Schema validator for component ``name`` of ``document`` (its references resolved)."""
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]},
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_both_documents_are_valid_openapi_3_1() -> None:
    for document in (service_document(), console_document()):
        assert document["openapi"] == "3.1.0"
        validate(document, cls=OpenAPIV31SpecValidator)


def test_the_service_document_covers_the_endpoint_table_and_nothing_else() -> None:
    documented = operations(service_document())
    table = {**ENDPOINT_TABLE, **KNOWLEDGE_TABLE}
    assert set(documented) == set(table)
    for key, spec_id in table.items():
        assert spec_id in documented[key]["description"], key
    assert not any("human_input" in path or "/pipeline" in path for _, path in documented)


def test_every_served_v1_route_is_documented() -> None:
    """A route added to /v1 without a row in the table fails here (the document is its contract).
    ``POST /retrieval`` is the external knowledge API contract (KB-EXT-SPEC), another API with its own
    error shape, specified by Dify's external-knowledge-api page rather than this document."""
    documented = {path for _, path in operations(service_document())}
    routes = [*service_routes(), *knowledge_routes()]
    served = {route.path for route in routes if isinstance(route, Route)}
    assert served - documented - {"/openapi.json", "/retrieval"} == set()
    assert not any(isinstance(route, Mount) for route in routes)


def test_every_operation_needs_the_app_key_and_documents_the_error_envelope() -> None:
    document = service_document()
    assert document["components"]["securitySchemes"]["ApiKeyAuth"] == {
        **document["components"]["securitySchemes"]["ApiKeyAuth"], "type": "http", "scheme": "bearer",
    }
    assert document["security"] == [{"ApiKeyAuth": []}]
    for key, operation in operations(document).items():
        assert "security" not in operation, key  # the document-wide ApiKeyAuth applies
        for status in ("400", "401"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, key
    error = validator(document, "Error")
    assert error.is_valid({"code": "not_found", "message": "Conversation Not Exists.", "status": 404})
    assert not error.is_valid({"code": "not_found", "message": "x"})


def test_request_bodies_and_query_parameters_come_from_the_route_models() -> None:
    document = service_document()
    schemas = document["components"]["schemas"]
    required = {name for name, f in ChatMessageRequest.model_fields.items() if f.is_required()}
    assert set(schemas["ChatMessageRequest"]["required"]) == required == {"user", "inputs", "query"}
    assert schemas["ChatMessageRequest"]["properties"]["files"]["anyOf"][0]["items"] == {
        "$ref": "#/components/schemas/InputFile"
    }
    chat = operations(document)[("post", "/chat-messages")]
    assert chat["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChatMessageRequest"
    }
    listing = operations(document)[("get", "/conversations")]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["in"] == "query" and limit["schema"]["maximum"] == 100 and limit["schema"]["default"] == 20
    sort_by = next(p for p in listing["parameters"] if p["name"] == "sort_by")
    assert sort_by["schema"]["enum"] == ["created_at", "-created_at", "updated_at", "-updated_at"]
    upload = operations(document)[("post", "/files/upload")]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"] and form["properties"]["file"]["format"] == "binary"
    assert "201" in upload["responses"] and "413" in upload["responses"] and "415" in upload["responses"]
    assert "204" in operations(document)[("delete", "/conversations/{conversation_id}")]["responses"]


def test_streaming_endpoints_document_the_event_stream() -> None:
    document = service_document()
    for path, union in (("/chat-messages", "ChatStreamEvent"), ("/completion-messages", "CompletionStreamEvent"),
                        ("/workflows/run", "WorkflowStreamEvent")):
        content = operations(document)[("post", path)]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}
        data = content["text/event-stream"]["schema"]["properties"]["data"]
        assert data["contentMediaType"] == "application/json"
        assert data["contentSchema"] == {"$ref": f"#/components/schemas/{union}"}


def test_response_schemas_catch_a_wrong_type_but_allow_fields_dify_may_add() -> None:
    document = service_document()
    conversation = {
        "id": "0b6f1f5e-8a53-4a0a-9d59-1f9b3c7b2a11", "name": "Hi", "inputs": {}, "status": "normal",
        "introduction": "", "created_at": 1705407629, "updated_at": 1705407629,
    }
    check = validator(document, "Conversation")
    assert check.is_valid(conversation)
    assert check.is_valid({**conversation, "something_new": [1, 2]})
    assert not check.is_valid({**conversation, "created_at": "2024-01-16T12:00:00Z"})  # Unix seconds (API-COMMON-TS)
    assert not check.is_valid({k: v for k, v in conversation.items() if k != "name"})
    page = validator(document, "ConversationPage")
    assert page.is_valid({"limit": 20, "has_more": False, "data": [conversation]})
    assert not page.is_valid({"limit": "20", "has_more": False, "data": []})
    events = validator(document, "ChatStreamEvent")
    message = {"event": "message", "task_id": "t", "message_id": "m", "conversation_id": "c", "answer": "hi",
               "created_at": 1}
    assert events.is_valid(message)
    assert not events.is_valid({**message, "answer": 3})
    assert not events.is_valid({**message, "event": "no_such_event"})
    assert events.is_valid({"event": "error", "status": 400, "code": "invalid_param", "message": "bad"})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


async def test_both_documents_are_served_without_a_key(api: ServiceApi) -> None:
    served = await api.client.get("/openapi.json")
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/json")
    assert served.json() == service_document()
    console = await api.client.get("http://treadle.test/console/api/openapi.json")
    assert console.status_code == 200
    assert console.json() == console_document()
    validate(console.json(), cls=OpenAPIV31SpecValidator)


async def test_what_the_generation_endpoints_answer_fits_the_documented_shapes(api: ServiceApi) -> None:
    """Blocking bodies and every streamed event of each app mode validate against the document
    (API-CHAT-SEND, API-COMPL-SEND, API-WF-RUN, API-SSE-*)."""
    document = service_document()
    runs = [
        ("chat", "/chat-messages", {"query": "hello"}, "ChatMessageResponse", "ChatStreamEvent"),
        ("chatflow", "/chat-messages", {"query": "hello"}, "ChatMessageResponse", "ChatStreamEvent"),
        ("completion", "/completion-messages", {"inputs": {"topic": "owls"}}, "CompletionMessageResponse",
         "CompletionStreamEvent"),
        ("workflow", "/workflows/run", {"inputs": {"text": "hey"}}, "WorkflowRunResponse", "WorkflowStreamEvent"),
    ]
    for app, path, fields, blocking, stream in runs:
        body = {"inputs": {}, "user": "openapi", **fields}
        answer = await api.client.post(path, headers=api.auth(app), json=body)
        assert answer.status_code == 200, answer.text
        errors = [e.message for e in validator(document, blocking).iter_errors(answer.json())]
        assert errors == [], (app, errors, answer.json())
        streamed = await api.client.post(path, headers=api.auth(app), json={**body, "response_mode": "streaming"})
        assert streamed.status_code == 200
        events = sse_events(streamed.text)
        assert events
        check = validator(document, stream)
        for event in events:
            errors = [e.message for e in check.iter_errors(event)]
            assert errors == [], (app, event["event"], errors, json.dumps(event)[:500])
    refused = await api.client.post("/workflows/run", headers=api.auth("chat"), json={"inputs": {}, "user": "u"})
    assert refused.status_code == 400
    assert validator(document, "Error").is_valid(refused.json())


# --- The console document -------------------------------------------------------------------------

CONSOLE = "http://treadle.test/console/api"


def console_mount(app: Any) -> Mount:
    """The ``/console/api`` Mount of the real application."""
    found = [route for route in app.routes if isinstance(route, Mount) and route.path == "/console/api"]
    assert len(found) == 1
    return found[0]


async def test_every_console_route_has_exactly_one_operation_and_vice_versa(api: ServiceApi) -> None:
    """A console route added without a row in the table (or a row left behind by a removed route) fails
    here: the document is the console's contract (WS-ACCOUNT, WS-WORKSPACE, WS-APP-MGMT, WS-PLUGINS)."""
    mount = console_mount(api.app)
    served: list[tuple[str, str]] = []
    for route in mount.routes:
        assert isinstance(route, Route), f"a nested mount under /console/api: {route!r}"
        assert route.methods, route.path
        served += [(method.lower(), route.path) for method in route.methods if method != "HEAD"]
    assert len(served) == len(set(served)), sorted(key for key in served if served.count(key) > 1)
    documented = operations(console_document())
    assert set(served) - set(documented) == set(), "served but not documented"
    assert set(documented) - set(served) == set(), "documented but not served"
    assert len(documented) >= 40
    ids = [operation["operationId"] for operation in documented.values()]
    assert len(ids) == len(set(ids))
    for key, operation in documented.items():
        assert "Spec: " in operation.get("description", ""), key
        public = operation.get("security") == []
        assert public == (key[1] in {"/login", "/logout", "/refresh-token", "/mcp/oauth/callback"}), key


def test_console_request_bodies_and_query_parameters_come_from_the_route_models() -> None:
    from treadle.api.console.apps import AppListQuery, ImportRequest
    from treadle.api.console.models import CredentialsRequest

    document = console_document()
    schemas = document["components"]["schemas"]
    for model in (ImportRequest, CredentialsRequest):
        required = {name for name, f in model.model_fields.items() if f.is_required()}
        assert set(schemas[model.__name__].get("required", [])) == required, model.__name__
    listing = operations(document)[("get", "/apps")]
    names = {p["name"] for p in listing["parameters"] if p["in"] == "query"}
    assert names == set(AppListQuery.model_fields)
    mode = next(p for p in listing["parameters"] if p["name"] == "mode")
    assert "advanced-chat" in mode["schema"]["enum"]
    deleting = operations(document)[("delete", "/workspaces/current/model-providers/{provider}/credentials")]
    assert deleting["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CredentialIdRequest"
    }
    assert "credential_id" in {p["name"] for p in deleting["parameters"]}
    for key, status in ((("post", "/apps/{app_id}/api-keys"), "201"), (("delete", "/apps/{app_id}"), "204"),
                        (("post", "/api-based-extension"), "201"), (("post", "/datasets/api-keys"), "201")):
        assert status in operations(document)[key]["responses"], key


def test_console_response_schemas_catch_a_wrong_type() -> None:
    document = console_document()
    app = {
        "id": "a", "name": "Shout", "description": "", "mode": "workflow", "icon_type": "emoji", "icon": "x",
        "icon_background": "#FFF", "icon_url": None, "enable_site": True, "enable_api": True,
        "workflow": {"id": "w"}, "max_active_requests": None, "tags": [], "created_by": None,
        "created_at": 1705407629, "updated_by": None, "updated_at": 1705407629,
    }
    check = validator(document, "App")
    assert check.is_valid(app) and check.is_valid({**app, "something_new": 1})
    assert not check.is_valid({**app, "created_at": "2024-01-16T12:00:00Z"})
    assert not check.is_valid({**app, "mode": "robot"})
    assert not check.is_valid({k: v for k, v in app.items() if k != "enable_api"})
    detail = validator(document, "AppDetail")
    extra = {"status": "normal", "model_config": None, "site": {}, "site_code": None, "api_base_url": "u",
             "api_rpm": 0, "api_rph": 0}
    assert detail.is_valid({**app, **extra})
    assert not detail.is_valid({**app, **extra, "api_rpm": "0"})
    assert not detail.is_valid({**extra})
    key = validator(document, "ApiKey")
    assert key.is_valid({"id": "k", "type": "app", "token": "app-…", "last_used_at": None, "created_at": 1})
    assert not key.is_valid({"id": "k", "type": "app", "token": None, "last_used_at": None, "created_at": 1})
    default = validator(document, "DefaultModel")
    assert default.is_valid({"data": None})
    assert not default.is_valid({"data": {"model": "echo"}})


@dataclass
class ConsoleCalls:
    """Console calls over HTTP whose answers are checked against the console document: the status must be
    documented for the operation and the body must fit its schema."""

    api: ServiceApi
    document: dict[str, Any]
    headers: dict[str, str]
    checked: set[tuple[str, str]]

    async def call(self, method: str, template: str, status: int, *, path: Mapping[str, str] | None = None,
                   **kwargs: Any) -> httpx.Response:
        url = CONSOLE + template.format(**(path or {}))
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.api.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == status, (method, template, response.text)
        operation = operations(self.document)[(method.lower(), template)]
        documented = operation["responses"].get(str(status))
        assert documented is not None, (method, template, status)
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            assert response.content == b"", (method, template)
        else:
            check = Draft202012Validator({**schema, "components": self.document["components"]},
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(response.json())]
            assert errors == [], (method, template, errors)
        self.checked.add((method.lower(), template))
        return response


async def test_what_the_console_answers_fits_the_documented_shapes(api: ServiceApi) -> None:
    """Every console operation, called on real data (apps, versions, runs, credentials, extensions,
    keys), answers a documented status with a body of the documented shape (WS-APP-MGMT, VC-HISTORY,
    VC-MANAGE, EXEC-RUN-RECORDS, WS-MODEL-PROVIDERS, WS-MODEL-CREDENTIALS, WS-DEFAULT-MODELS, WS-PLUGINS,
    FEAT-MODERATION, API-COMMON-AUTH)."""
    document = console_document()
    calls = ConsoleCalls(api, document, {}, set())
    login = await calls.call("POST", "/login", 200, json={"email": DEFAULT_OWNER_EMAIL, "password": OWNER_PASSWORD})
    api.client.cookies.clear()
    calls.headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    await calls.call("POST", "/refresh-token", 200)
    api.client.cookies.clear()
    await calls.call("GET", "/account/profile", 200)
    workspaces = await calls.call("GET", "/workspaces", 200)
    await calls.call("GET", "/workspaces/current", 200)
    await calls.call("POST", "/workspaces/switch", 200, json={"tenant_id": workspaces.json()["workspaces"][0]["id"]})
    api.client.cookies.clear()
    invited = await calls.call("POST", "/workspaces/current/members/invite-email", 201,
                               json={"emails": ["someone@example.com"], "role": "editor"})
    member_id = invited.json()["invitation_results"][0]["account_id"]
    await calls.call("GET", "/workspaces/current/members", 200)
    await calls.call("PUT", "/workspaces/current/members/{member_id}/update-role", 200, path={"member_id": member_id},
                     json={"role": "normal"})
    await calls.call("DELETE", "/workspaces/current/members/{member_id}", 204, path={"member_id": member_id})

    # Apps, their versions and keys.
    flow = {"app_id": api.apps["workflow"]}
    await calls.call("GET", "/apps", 200, params={"limit": 2})
    for name in ("workflow", "chat"):
        await calls.call("GET", "/apps/{app_id}", 200, path={"app_id": api.apps[name]})
    imported = await calls.call("POST", "/apps/imports", 200,
                                json={"mode": "yaml-content", "yaml_content": APPS["workflow"], "name": "Copy"})
    bad = await calls.call("POST", "/apps/imports", 400, json={"mode": "yaml-content", "yaml_content": "- a list"})
    assert bad.json()["problems"]
    await calls.call("GET", "/apps/{app_id}/export", 200, path=flow, params={"include_secret": "true"})
    await calls.call("POST", "/apps/{app_id}/workflows/publish", 200, path=flow,
                     json={"marked_name": "v2", "marked_comment": "again"})
    await calls.call("POST", "/apps/{app_id}/workflows/publish", 400, path={"app_id": api.apps["chat"]}, json={})
    versions = await calls.call("GET", "/apps/{app_id}/workflows", 200, path=flow)
    published = next(v for v in versions.json()["items"] if v["version"] != "draft")
    await calls.call("POST", "/apps/{app_id}/workflows/{version_id}/restore", 200,
                     path={**flow, "version_id": published["id"]})
    made = await calls.call("POST", "/apps/{app_id}/api-keys", 201, path=flow)
    await calls.call("GET", "/apps/{app_id}/api-keys", 200, path=flow)
    await calls.call("DELETE", "/apps/{app_id}/api-keys/{key_id}", 204, path={**flow, "key_id": made.json()["id"]})
    await calls.call("DELETE", "/apps/{app_id}", 204, path={"app_id": imported.json()["app_id"]})
    await calls.call("GET", "/apps/{app_id}", 404, path={"app_id": imported.json()["app_id"]})

    # The app as an MCP server (PUB-MCP-SERVER).
    await calls.call("GET", "/apps/{app_id}/server", 404, path=flow)
    server = await calls.call("POST", "/apps/{app_id}/server", 200, path=flow,
                              json={"description": "Shouts.", "parameters": {"text": "What to shout."}})
    await calls.call("POST", "/apps/{app_id}/server", 400, path=flow, json={"parameters": {"text": 1}})
    await calls.call("GET", "/apps/{app_id}/server", 200, path=flow)
    await calls.call("PUT", "/apps/{app_id}/server", 200, path=flow, json={"status": "inactive"})
    fresh = await calls.call("GET", "/apps/{server_id}/server/refresh", 200, path={"server_id": server.json()["id"]})
    assert fresh.json()["server_code"] != server.json()["server_code"]

    # Run logs.
    ran = await api.client.post("/workflows/run", headers=api.auth("workflow"),
                                json={"inputs": {"text": "hey"}, "user": "openapi"})
    assert ran.status_code == 200, ran.text
    runs = await calls.call("GET", "/apps/{app_id}/workflow-runs", 200, path=flow)
    run = {**flow, "run_id": runs.json()["data"][0]["id"]}
    await calls.call("GET", "/apps/{app_id}/workflow-runs/{run_id}", 200, path=run)
    nodes = await calls.call("GET", "/apps/{app_id}/workflow-runs/{run_id}/node-executions", 200, path=run)
    assert nodes.json()["data"]

    # Model providers and default models, plugins.
    fake = {"provider": "fake"}
    await calls.call("GET", "/workspaces/current/model-providers", 200)
    saved = await calls.call("POST", "/workspaces/current/model-providers/{provider}/credentials", 201, path=fake,
                             json={"credentials": {"api_key": "sk-test-1234567890"}, "name": "One"})
    await calls.call("POST", "/workspaces/current/model-providers/{provider}/credentials", 400, path=fake,
                     json={"credentials": {"api_key": "invalid"}})
    await calls.call("GET", "/workspaces/current/model-providers/{provider}/credentials", 200, path=fake)
    credential = {"credential_id": saved.json()["credential_id"]}
    await calls.call("POST", "/workspaces/current/model-providers/{provider}/credentials/switch", 200, path=fake,
                     json=credential)
    await calls.call("GET", "/workspaces/current/default-model", 200, params={"model_type": "llm"})
    await calls.call("POST", "/workspaces/current/default-model", 200,
                     json={"model_settings": [{"model_type": "llm", "provider": "fake", "model": "echo"}]})
    await calls.call("GET", "/workspaces/current/default-model", 200, params={"model_type": "llm"})
    await calls.call("DELETE", "/workspaces/current/model-providers/{provider}/credentials", 204, path=fake,
                     json=credential)
    await calls.call("GET", "/workspaces/current/plugins", 200)

    # API-based extensions and knowledge keys.
    with ExtensionServer() as server:
        body = {"name": "moderator", "api_endpoint": server.url_for("/moderate"), "api_key": KEY}
        extension = await calls.call("POST", "/api-based-extension", 201, json=body)
        one = {"extension_id": extension.json()["id"]}
        await calls.call("GET", "/api-based-extension", 200)
        await calls.call("GET", "/api-based-extension/{extension_id}", 200, path=one)
        await calls.call("POST", "/api-based-extension/{extension_id}", 200, path=one,
                         json={**body, "name": "renamed", "api_key": extension.json()["api_key"]})
        await calls.call("DELETE", "/api-based-extension/{extension_id}", 204, path=one)
    key = await calls.call("POST", "/datasets/api-keys", 201)
    await calls.call("GET", "/datasets/api-keys", 200)
    await calls.call("DELETE", "/datasets/api-keys/{key_id}", 204, path={"key_id": key.json()["id"]})

    # MCP servers as tools (WS-MCP-CLIENT); without the MCP client plugin loaded, the server stays unconfigured.
    mcp, one_server = "/workspaces/current/tool-provider/mcp", {"provider_id": "crm"}
    await calls.call("POST", mcp, 200, json={"server_url": "https://crm.example/mcp", "name": "CRM",
                                             "server_identifier": "crm", "headers": {"X-Key": "k-0123456789"}})
    await calls.call("GET", "/workspaces/current/tools/mcp", 200)
    await calls.call("GET", mcp + "/tools/{provider_id}", 200, path=one_server)
    await calls.call("PUT", mcp, 200, json={"provider_id": "crm", "server_url": "https://crm.example/mcp",
                                            "name": "CRM tools"})
    await calls.call("GET", mcp + "/update/{provider_id}", 400, path=one_server)
    await calls.call("POST", mcp + "/tools/{provider_id}/{tool_name}/settings", 404,
                     path={**one_server, "tool_name": "find"}, json={"description": "Find customers."})
    await calls.call("POST", mcp + "/auth", 400, json=one_server)  # no MCP client plugin to start it
    await calls.call("GET", "/mcp/oauth/callback", 400, params={"code": "c", "state": "never-issued"})
    await calls.call("DELETE", mcp, 200, json=one_server)
    await calls.call("POST", "/logout", 200)
    assert calls.checked == set(operations(document))
