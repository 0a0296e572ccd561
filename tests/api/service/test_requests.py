"""Request bodies and query strings of /v1, validated as Dify validates them (API-CHAT-SEND, API-COMPL-SEND,
API-WF-RUN, API-CONV-*, API-MSG-LIST, API-FB-*, API-ANN-*, API-COMMON-USER, API-COMMON-MODE)."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.api.errors import ApiError
from treadle.api.service import (
    AnnotationReplySettingsRequest,
    ChatMessageRequest,
    CompletionMessageRequest,
    ConversationListQuery,
    ConversationRenameRequest,
    ConversationVariableUpdateRequest,
    FeedbackListQuery,
    FeedbackRequest,
    MessageListQuery,
    StopRequest,
    TextToAudioRequest,
    WorkflowLogsQuery,
    WorkflowRunRequest,
    parse,
)
from treadle.api.service.requests import M


def invalid(model: type[M], data: Any, where: Any = "body") -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(model, data, where=where)
    assert (caught.value.status, caught.value.code) == (400, "invalid_param")
    return caught.value


def test_the_documented_chat_examples_parse() -> None:
    streaming = parse(ChatMessageRequest, {
        "inputs": {"city": "San Francisco"},
        "query": "What are the specs of the iPhone 13 Pro Max?",
        "response_mode": "streaming",
        "conversation_id": "",
        "user": "abc-123",
        "files": [{"type": "image", "transfer_method": "remote_url",
                   "url": "https://cloud.dify.ai/logo/logo-site.png"}],
    })
    assert streaming.streaming and streaming.conversation_id == "" and streaming.auto_generate_name is True
    assert streaming.files is not None and streaming.files[0].url == "https://cloud.dify.ai/logo/logo-site.png"
    blocking = parse(ChatMessageRequest, {
        "inputs": {}, "query": "What are the specs of the iPhone 13 Pro Max?", "response_mode": "blocking",
        "conversation_id": "45701982-8118-4bc5-8e9b-64562b4555f2", "user": "abc-123",
    })
    assert not blocking.streaming and blocking.conversation_id == "45701982-8118-4bc5-8e9b-64562b4555f2"


def test_the_documented_workflow_file_array_example_parses() -> None:
    request = parse(WorkflowRunRequest, {
        "inputs": {"my_documents": [
            {"type": "document", "transfer_method": "local_file",
             "upload_file_id": "a1b2c3d4-5678-90ab-cdef-1234567890ab"},
            {"type": "image", "transfer_method": "remote_url", "url": "https://example.com/image.jpg"},
        ]},
        "response_mode": "blocking",
        "user": "user_workflow_789",
    })
    assert request.inputs["my_documents"][0]["upload_file_id"] == "a1b2c3d4-5678-90ab-cdef-1234567890ab"


def test_an_omitted_response_mode_is_blocking() -> None:
    request = parse(CompletionMessageRequest, {"inputs": {"q": "hi"}, "user": "u"})
    assert request.response_mode is None and not request.streaming and request.query == ""


@pytest.mark.parametrize("body", [{"inputs": {}}, {"inputs": {}, "user": ""}, {"inputs": {}, "user": None}])
def test_a_missing_user_is_the_documented_error(body: dict[str, Any]) -> None:
    error = invalid(WorkflowRunRequest, body)
    assert error.message == "Arg user must be provided."
    assert error.extra == {"params": "user"}


def test_stop_needs_the_user() -> None:
    assert invalid(StopRequest, {}).message == "Arg user must be provided."
    assert parse(StopRequest, {"user": "abc-123"}).user == "abc-123"


def test_missing_and_wrong_fields_say_which_and_where() -> None:
    missing = invalid(ChatMessageRequest, {"inputs": {}, "user": "u"})
    assert missing.message == "query is required (in the JSON body)."
    assert missing.extra == {"params": "query"}
    not_object = invalid(ChatMessageRequest, {"inputs": ["a"], "query": "q", "user": "u"})
    assert not_object.extra == {"params": "inputs"}
    assert "inputs:" in not_object.message and "dictionary" in not_object.message
    mode = invalid(ChatMessageRequest, {"inputs": {}, "query": "q", "user": "u", "response_mode": "fast"})
    assert mode.extra == {"params": "response_mode"}
    assert "'blocking' or 'streaming'" in mode.message


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert invalid(WorkflowRunRequest, ["inputs"]).message == "The request body must be a JSON object, not list."


def test_conversation_ids_must_be_uuids() -> None:
    error = invalid(ChatMessageRequest, {"inputs": {}, "query": "q", "user": "u", "conversation_id": "abc"})
    assert error.message == "conversation_id: conversation_id is not a valid UUID: 'abc' (in the JSON body)."


@pytest.mark.parametrize(
    ("file", "reason"),
    [
        ({"type": "image", "transfer_method": "remote_url"}, "a remote_url file needs a url"),
        ({"type": "image", "transfer_method": "local_file"}, "a local_file file needs an upload_file_id"),
        ({"type": "picture", "transfer_method": "remote_url", "url": "https://x"}, "files.0.type"),
        ({"type": "image", "transfer_method": "ftp", "url": "ftp://x"}, "files.0.transfer_method"),
    ],
)
def test_file_objects_are_checked(file: dict[str, Any], reason: str) -> None:
    error = invalid(WorkflowRunRequest, {"inputs": {}, "user": "u", "files": [file]})
    assert reason in error.message and error.extra == {"params": "files"}


def test_query_strings_have_documented_defaults_and_bounds() -> None:
    conversations = parse(ConversationListQuery, {"user": "u"}, where="query")
    assert (conversations.limit, conversations.sort_by, conversations.last_id) == (20, "-updated_at", None)
    assert invalid(ConversationListQuery, {"limit": "101"}, where="query").message.endswith("(in the query string).")
    assert invalid(ConversationListQuery, {"sort_by": "name"}, where="query").extra == {"params": "sort_by"}
    assert parse(ConversationListQuery, {"limit": "100"}, where="query").limit == 100
    messages = invalid(MessageListQuery, {"user": "u"}, where="query")
    assert messages.message == "conversation_id is required (in the query string)."
    assert parse(FeedbackListQuery, {"limit": "101"}, where="query").limit == 101
    logs = parse(WorkflowLogsQuery, {"status": "failed", "created_at__before": "2024-01-01T00:00:00Z"}, where="query")
    assert logs.status == "failed" and logs.created_at__before is not None and logs.page == 1
    assert invalid(WorkflowLogsQuery, {"page": "100000"}, where="query").extra == {"params": "page"}


def test_rename_needs_a_name_unless_generated() -> None:
    assert invalid(ConversationRenameRequest, {"user": "u"}).message == (
        "name is required when auto_generate is false (in the JSON body).")
    assert parse(ConversationRenameRequest, {"user": "u", "auto_generate": True}).name is None


def test_feedback_rating_is_like_dislike_or_null() -> None:
    assert parse(FeedbackRequest, {"rating": None, "user": "u"}).rating is None
    assert parse(FeedbackRequest, {"rating": "like", "user": "u", "content": "great"}).rating == "like"
    assert invalid(FeedbackRequest, {"rating": "love", "user": "u"}).extra == {"params": "rating"}


def test_variable_updates_need_a_value_even_a_null_one() -> None:
    assert parse(ConversationVariableUpdateRequest, {"value": None, "user": "u"}).value is None
    assert invalid(ConversationVariableUpdateRequest, {"user": "u"}).message == "value is required (in the JSON body)."


def test_annotation_reply_threshold_is_between_0_and_1() -> None:
    body = {"embedding_provider_name": "openai", "embedding_model_name": "text-embedding-3-small"}
    assert parse(AnnotationReplySettingsRequest, {**body, "score_threshold": 0.9}).score_threshold == 0.9
    assert invalid(AnnotationReplySettingsRequest, {**body, "score_threshold": 1.5}).extra == {
        "params": "score_threshold"}


def test_text_to_audio_needs_a_message_or_text() -> None:
    assert invalid(TextToAudioRequest, {"user": "u"}).message == "message_id or text is required (in the JSON body)."
    assert parse(TextToAudioRequest, {"text": "Hello", "user": "u"}).text == "Hello"
