"""The OpenAPI 3.1 documents of the Service API and the console API: valid against the OpenAPI 3.1
schema, served without a key, covering the endpoint table (spec section 1.2 without the Knowledge API
and the spec-only endpoints), with request bodies taken from the models the routes parse, and response
schemas that accept what the server really answers and refuse a field of the wrong type
(API-COMMON-AUTH, API-COMMON-ERR, API-COMMON-PAGE, API-COMMON-TS, API-SSE-*)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from starlette.routing import Mount, Route
from support.service_api import ServiceApi, service_api
from treadle.api.openapi import console_document, service_document
from treadle.api.service.requests import ChatMessageRequest
from treadle.api.service.routes import service_routes

from .service.test_generation import APPS, sse_events

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
    assert set(documented) == set(ENDPOINT_TABLE)
    for key, spec_id in ENDPOINT_TABLE.items():
        assert spec_id in documented[key]["description"], key
    assert not any(path.startswith("/datasets") or "human_input" in path for _, path in documented)


def test_every_served_v1_route_is_documented() -> None:
    """A route added to /v1 without a row in the table fails here (the document is its contract)."""
    documented = {path for _, path in operations(service_document())}
    served = {route.path for route in service_routes() if isinstance(route, Route)}
    assert served - documented - {"/openapi.json"} == set()
    assert not any(isinstance(route, Mount) for route in service_routes())


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
