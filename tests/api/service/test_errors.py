"""The documented error envelopes (API-COMMON-ERR, API-ERR-*) and the codes failed runs answer with."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from treadle.api.errors import exception_handlers
from treadle.api.service import error_for_run_failure, errors

# The 400/429/500 examples of POST /workflows/run in Dify's openapi_workflow.json.
DOCUMENTED = [
    (errors.NOT_WORKFLOW_APP, {"status": 400, "code": "not_workflow_app",
                               "message": "Please check if your app mode matches the right API route."}),
    (errors.PROVIDER_NOT_INITIALIZE, {"status": 400, "code": "provider_not_initialize",
                                      "message": "No valid model provider credentials found. Please go to "
                                                 "Settings -> Model Provider to complete your provider credentials."}),
    (errors.COMPLETION_REQUEST_ERROR, {"status": 400, "code": "completion_request_error",
                                       "message": "Completion request failed."}),
    (errors.TOO_MANY_REQUESTS, {"status": 429, "code": "too_many_requests",
                                "message": "Too many requests. Please try again later."}),
    (errors.RATE_LIMIT_ERROR, {"status": 429, "code": "rate_limit_error", "message": "Rate Limit Error"}),
    (errors.INTERNAL_SERVER_ERROR, {"status": 500, "code": "internal_server_error",
                                    "message": "Internal Server Error."}),
]


@pytest.mark.parametrize(("error", "expected"), DOCUMENTED, ids=[e.code for e, _ in DOCUMENTED])
def test_documented_examples_come_back_from_an_endpoint_field_by_field(
    error: errors.ServiceError, expected: dict[str, object]
) -> None:
    async def fail(request: Request) -> Response:
        raise error.error()

    app = Starlette(routes=[Route("/v1/workflows/run", fail, methods=["POST"])],
                    exception_handlers=exception_handlers)
    with TestClient(app) as client:
        response = client.post("/v1/workflows/run", json={})
    assert response.status_code == expected["status"]
    assert response.json() == expected


def test_every_catalogue_code_has_its_documented_status() -> None:
    by_status: dict[int, set[str]] = {}
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, errors.ServiceError):
            by_status.setdefault(value.status, set()).add(value.code)
    assert {"app_unavailable", "not_chat_app", "not_workflow_app", "conversation_completed",
            "provider_not_initialize", "provider_quota_exceeded", "model_currently_not_support",
            "completion_request_error", "bad_request", "invalid_param", "no_file_uploaded", "too_many_files",
            "filename_not_exists_error", "no_audio_uploaded", "provider_not_support_speech_to_text"} <= by_status[400]
    assert by_status[403] == {"forbidden", "file_access_denied"}
    assert by_status[404] == {"not_found", "file_not_found", "end_user_not_found"}
    assert by_status[413] == {"file_too_large", "audio_too_large"}
    assert by_status[415] == {"unsupported_file_type", "unsupported_audio_type"}
    assert by_status[429] == {"too_many_requests", "rate_limit_error"}


def test_a_message_replaces_the_default_and_extra_fields_join_the_envelope() -> None:
    assert errors.CONVERSATION_NOT_EXISTS.body() == {"code": "not_found", "message": "Conversation Not Exists.",
                                                     "status": 404}
    raised = errors.BAD_REQUEST.error("Invalid workflow_id format.", params="workflow_id")
    assert (raised.status, raised.code, raised.message, raised.extra) == (
        400, "bad_request", "Invalid workflow_id format.", {"params": "workflow_id"})


@pytest.mark.parametrize(
    ("error_type", "code", "status"),
    [
        ("InvokeRateLimitError", "rate_limit_error", 429),
        ("QuotaExceededError", "provider_quota_exceeded", 400),
        ("InvokeAuthorizationError", "provider_not_initialize", 400),
        ("InvokeBadRequestError", "completion_request_error", 400),
        ("InvokeServerUnavailableError", "completion_request_error", 400),
    ],
)
def test_model_failures_keep_their_own_code_and_message(error_type: str, code: str, status: int) -> None:
    assert error_for_run_failure(error_type, "openai: slow down") == {
        "code": code, "message": "openai: slow down", "status": status}


def test_other_run_failures_are_invalid_param_saying_the_run_failed() -> None:
    assert error_for_run_failure("NodeRunError", "node code: division by zero") == {
        "code": "invalid_param", "message": "Run failed: node code: division by zero", "status": 400}
