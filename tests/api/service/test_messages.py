"""Messages over HTTP: conversation history, feedback, and suggested questions (API-MSG-LIST,
API-FB-SUBMIT, API-FB-LIST, API-CHAT-SUGGEST, API-COMMON-USER, API-COMMON-PAGE, API-COMMON-TS).
Messages are made by real chats through ``/chat-messages`` and ``/completion-messages``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.dsl import ECHO_CHAT, FLOW_WORKFLOW, WRITER_COMPLETION
from support.service_api import ServiceApi, service_api
from treadle.api.service.state import ServiceApp
from treadle.store import App, MessageFeedback

CHAT = ECHO_CHAT

FOLLOW_UP_CHAT = CHAT.replace("name: Chatter", "name: Curious") + (
    "  suggested_questions_after_answer: {enabled: true}\n"
)

CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Parrot}
workflow:
  features:
    suggested_questions_after_answer: {enabled: true}
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: answer
      data: {type: answer, title: Answer, answer: "you said {{#sys.query#}}"}
    edges:
    - {id: e1, source: start, target: answer}
"""

COMPLETION = WRITER_COMPLETION

WORKFLOW = FLOW_WORKFLOW

APPS = {"chat": CHAT, "curious": FOLLOW_UP_CHAT, "chatflow": CHATFLOW, "completion": COMPLETION,
        "workflow": WORKFLOW}
MISSING = "00000000-0000-4000-8000-000000000000"
MESSAGE_KEYS = {
    "id", "conversation_id", "parent_message_id", "inputs", "query", "answer", "message_files", "feedback",
    "retriever_resources", "agent_thoughts", "created_at", "status", "error", "extra_contents",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


async def chat(api: ServiceApi, query: str, user: str, *, app: str = "chat", conversation_id: str = "",
               **extra: Any) -> dict[str, Any]:
    response = await api.client.post("/chat-messages", headers=api.auth(app), json={
        "inputs": {}, "query": query, "user": user, "conversation_id": conversation_id, **extra,
    })
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def conversation(api: ServiceApi, user: str, *queries: str, app: str = "chat") -> tuple[str, list[str]]:
    """A conversation of ``queries``: its id and its message ids, oldest first."""
    conversation_id, ids = "", []
    for query in queries:
        body = await chat(api, query, user, app=app, conversation_id=conversation_id)
        conversation_id = body["conversation_id"]
        ids.append(body["message_id"])
    return conversation_id, ids


async def history(api: ServiceApi, conversation_id: str, user: str, app: str = "chat",
                  **params: Any) -> dict[str, Any]:
    response = await api.client.get("/messages", headers=api.auth(app),
                                    params={"conversation_id": conversation_id, "user": user, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def default_model_says(api: ServiceApi, reply: str) -> None:
    """Make the fake ``script`` model, answering ``reply``, the workspace's default LLM (its system model)."""
    await asyncio.gather(*api.state.background)  # conversation naming is done before the model changes
    await api.supervisor.model_settings.save_credentials(api.tenant_id, "fake", {"script": json.dumps([reply])})
    await api.supervisor.model_settings.set_default_model(api.tenant_id, "llm", "fake", "script")


# -- API-MSG-LIST ----------------------------------------------------------------------------------


async def test_the_history_lists_each_message_with_the_documented_fields(api: ServiceApi) -> None:
    """API-MSG-LIST, API-COMMON-TS: a page in chronological order, every documented field, Unix seconds."""
    conversation_id, ids = await conversation(api, "ann", "one", "two", "three")
    body = await history(api, conversation_id, "ann")
    assert body["limit"] == 20 and body["has_more"] is False
    assert [m["id"] for m in body["data"]] == ids
    first = body["data"][0]
    assert set(first) == MESSAGE_KEYS
    assert first["conversation_id"] == conversation_id and first["query"] == "one" and "one" in first["answer"]
    assert first["status"] == "normal" and first["error"] is None and first["feedback"] is None
    assert first["inputs"] == {} and first["message_files"] == [] and first["agent_thoughts"] == []
    assert first["retriever_resources"] == [] and first["extra_contents"] == []
    assert isinstance(first["created_at"], int) and abs(first["created_at"] - time.time()) < 120


async def test_the_newest_page_comes_first_and_first_id_pages_toward_older(api: ServiceApi) -> None:
    """API-MSG-LIST: the first page holds the latest ``limit`` messages (oldest of them first);
    ``first_id`` (the oldest shown) gives the ones before it."""
    conversation_id, ids = await conversation(api, "ann", "m1", "m2", "m3", "m4", "m5")
    newest = await history(api, conversation_id, "ann", limit=2)
    assert [m["id"] for m in newest["data"]] == ids[3:] and newest["has_more"] is True
    middle = await history(api, conversation_id, "ann", limit=2, first_id=ids[3])
    assert [m["id"] for m in middle["data"]] == ids[1:3] and middle["has_more"] is True
    oldest = await history(api, conversation_id, "ann", limit=2, first_id=ids[1])
    assert [m["id"] for m in oldest["data"]] == ids[:1] and oldest["has_more"] is False


async def test_sent_files_are_listed_as_message_files(api: ServiceApi) -> None:
    """API-MSG-LIST ``message_files``: the files the user sent, with the documented fields."""
    image = {"type": "image", "transfer_method": "remote_url", "url": "https://example.com/pics/cat.png"}
    sent = await chat(api, "look", "ann", files=[image])
    body = await history(api, sent["conversation_id"], "ann")
    files = body["data"][0]["message_files"]
    assert len(files) == 1
    file = files[0]
    assert set(file) == {"id", "filename", "type", "url", "mime_type", "size", "transfer_method", "belongs_to",
                         "upload_file_id"}
    assert file["filename"] == "cat.png" and file["type"] == "image" and file["mime_type"] == "image/png"
    assert file["url"] == image["url"] and file["transfer_method"] == "remote_url"
    assert file["belongs_to"] == "user" and file["upload_file_id"] is None
    again = await history(api, sent["conversation_id"], "ann")
    assert again["data"][0]["message_files"][0]["id"] == file["id"]  # stable


async def test_an_uploaded_file_is_listed_with_a_freshly_signed_url(api: ServiceApi) -> None:
    """API-MSG-LIST ``message_files``: a local_file names its upload, and its URL is signed when read."""
    assert api.state.files is not None
    async with api.db.session() as session:
        app = ServiceApp.of(await session.get_one(App, api.apps["chat"]))
    end_user = await api.state.end_user(app, "ann")
    record = await api.state.files.upload(api.tenant_id, filename="notes.txt", content=b"tea notes",
                                          created_by=end_user.id)
    document = {"type": "document", "transfer_method": "local_file", "upload_file_id": record.id}
    sent = await chat(api, "read this", "ann", files=[document])
    file = (await history(api, sent["conversation_id"], "ann"))["data"][0]["message_files"][0]
    assert file["transfer_method"] == "local_file" and file["upload_file_id"] == record.id
    assert file["filename"] == "notes.txt" and file["type"] == "document" and file["size"] == len(b"tea notes")
    assert f"/files/{record.id}/file-preview?" in file["url"] and "sign=" in file["url"]


async def test_history_errors(api: ServiceApi) -> None:
    """API-MSG-LIST errors: conversation_id required and a UUID; another user's conversation and an
    unknown first_id are 404; a workflow app is not_chat_app."""
    conversation_id, _ = await conversation(api, "ann", "one")
    missing = await api.client.get("/messages", headers=api.auth("chat"), params={"user": "ann"})
    assert missing.status_code == 400 and missing.json()["params"] == "conversation_id"
    for params in ({"conversation_id": "nope"}, {"conversation_id": conversation_id, "first_id": "nope"},
                   {"conversation_id": conversation_id, "limit": 0},
                   {"conversation_id": conversation_id, "limit": 101}):
        response = await api.client.get("/messages", headers=api.auth("chat"), params={"user": "ann", **params})
        assert response.status_code == 400 and response.json()["code"] == "invalid_param", params
    other = await api.client.get("/messages", headers=api.auth("chat"),
                                 params={"conversation_id": conversation_id, "user": "bob"})
    assert other.status_code == 404
    assert other.json() == {"code": "not_found", "message": "Conversation Not Exists.", "status": 404}
    unknown = await api.client.get("/messages", headers=api.auth("chat"),
                                   params={"conversation_id": conversation_id, "user": "ann", "first_id": MISSING})
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "not_found", "message": "First Message Not Exists.", "status": 404}
    wrong = await api.client.get("/messages", headers=api.auth("workflow"),
                                 params={"conversation_id": conversation_id, "user": "ann"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_chat_app"
    deleted = await api.client.request("DELETE", f"/conversations/{conversation_id}", headers=api.auth("chat"),
                                       json={"user": "ann"})
    assert deleted.status_code == 204
    gone = await api.client.get("/messages", headers=api.auth("chat"),
                                params={"conversation_id": conversation_id, "user": "ann"})
    assert gone.status_code == 404


# -- API-FB-SUBMIT ---------------------------------------------------------------------------------


async def test_feedback_is_given_changed_and_revoked(api: ServiceApi) -> None:
    """API-FB-SUBMIT: like, then dislike with a comment (the same row changes), then null revokes;
    the history shows the user's rating."""
    conversation_id, ids = await conversation(api, "ann", "one", "two")
    path = f"/messages/{ids[0]}/feedbacks"
    liked = await api.client.post(path, headers=api.auth("chat"), json={"rating": "like", "user": "ann"})
    assert liked.status_code == 200 and liked.json() == {"result": "success"}
    listed = await history(api, conversation_id, "ann")
    assert [m["feedback"] for m in listed["data"]] == [{"rating": "like"}, None]
    changed = await api.client.post(path, headers=api.auth("chat"),
                                    json={"rating": "dislike", "content": "too short", "user": "ann"})
    assert changed.status_code == 200
    async with api.db.session() as session:
        rows = (await session.scalars(select(MessageFeedback))).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.rating, row.content, row.from_source, row.message_id) == ("dislike", "too short", "user", ids[0])
    assert row.conversation_id == conversation_id and row.from_end_user_id is not None
    revoked = await api.client.post(path, headers=api.auth("chat"), json={"rating": None, "user": "ann"})
    assert revoked.status_code == 200
    async with api.db.session() as session:
        assert (await session.scalars(select(MessageFeedback))).all() == []
    assert (await history(api, conversation_id, "ann"))["data"][0]["feedback"] is None
    nothing = await api.client.post(path, headers=api.auth("chat"), json={"user": "ann"})
    assert nothing.status_code == 400 and nothing.json()["code"] == "bad_request"


async def test_feedback_errors(api: ServiceApi) -> None:
    """API-FB-SUBMIT: another user's or an unknown message is 404 "Message Not Exists."; a rating
    other than like/dislike/null and a missing user are invalid_param."""
    _, ids = await conversation(api, "ann", "one")
    for message_id, user in ((ids[0], "bob"), (MISSING, "ann"), ("not-a-uuid", "ann")):
        response = await api.client.post(f"/messages/{message_id}/feedbacks", headers=api.auth("chat"),
                                         json={"rating": "like", "user": user})
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Message Not Exists.", "status": 404}
    bad = await api.client.post(f"/messages/{ids[0]}/feedbacks", headers=api.auth("chat"),
                                json={"rating": "love", "user": "ann"})
    assert bad.status_code == 400 and bad.json()["params"] == "rating"
    anonymous = await api.client.post(f"/messages/{ids[0]}/feedbacks", headers=api.auth("chat"),
                                      json={"rating": "like"})
    assert anonymous.status_code == 400 and anonymous.json()["message"] == "Arg user must be provided."
    other_app = await api.client.post(f"/messages/{ids[0]}/feedbacks", headers=api.auth("curious"),
                                      json={"rating": "like", "user": "ann"})
    assert other_app.status_code == 404


async def test_a_completion_message_takes_feedback(api: ServiceApi) -> None:
    """API-FB-SUBMIT applies to completion apps too (C, Ch, CF)."""
    written = await api.client.post("/completion-messages", headers=api.auth("completion"),
                                    json={"inputs": {"topic": "owls"}, "user": "ann"})
    message_id = written.json()["message_id"]
    response = await api.client.post(f"/messages/{message_id}/feedbacks", headers=api.auth("completion"),
                                     json={"rating": "like", "user": "ann"})
    assert response.status_code == 200, response.text
    listed = await api.client.get("/app/feedbacks", headers=api.auth("completion"))
    assert [(f["message_id"], f["conversation_id"]) for f in listed.json()["data"]] == [(message_id, None)]


# -- API-FB-LIST -----------------------------------------------------------------------------------


async def test_the_app_lists_every_feedback_newest_first_with_iso_times(api: ServiceApi) -> None:
    """API-FB-LIST, API-COMMON-TS: the app's feedback (of every user), newest first, ISO 8601 times,
    paged by ``page`` and ``limit``; another app's feedback is not listed."""
    _, ann = await conversation(api, "ann", "a1", "a2")
    _, bob = await conversation(api, "bob", "b1")
    _, elsewhere = await conversation(api, "ann", "c1", app="curious")
    for message_id, user, rating in ((ann[0], "ann", "like"), (bob[0], "bob", "dislike"), (ann[1], "ann", "like")):
        response = await api.client.post(f"/messages/{message_id}/feedbacks", headers=api.auth("chat"),
                                         json={"rating": rating, "user": user, "content": f"on {message_id}"})
        assert response.status_code == 200
    await api.client.post(f"/messages/{elsewhere[0]}/feedbacks", headers=api.auth("curious"),
                          json={"rating": "like", "user": "ann"})
    response = await api.client.get("/app/feedbacks", headers=api.auth("chat"))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [f["message_id"] for f in data] == [ann[1], bob[0], ann[0]]
    item = data[1]
    assert set(item) == {"id", "app_id", "conversation_id", "message_id", "rating", "content", "from_source",
                         "from_end_user_id", "from_account_id", "created_at", "updated_at"}
    assert item["app_id"] == api.apps["chat"] and item["rating"] == "dislike" and item["from_source"] == "user"
    assert item["content"] == f"on {bob[0]}" and item["from_account_id"] is None and item["from_end_user_id"]
    assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
    assert datetime.fromisoformat(item["updated_at"]) >= datetime.fromisoformat(item["created_at"])
    second = await api.client.get("/app/feedbacks", headers=api.auth("chat"), params={"page": 2, "limit": 2})
    assert [f["message_id"] for f in second.json()["data"]] == [ann[0]]
    widest = await api.client.get("/app/feedbacks", headers=api.auth("chat"), params={"limit": 101})
    assert widest.status_code == 200 and len(widest.json()["data"]) == 3
    for params in ({"limit": 102}, {"limit": 0}, {"page": 0}, {"page": "x"}):
        bad = await api.client.get("/app/feedbacks", headers=api.auth("chat"), params=params)
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_param", params


# -- API-CHAT-SUGGEST ------------------------------------------------------------------------------


async def test_suggestions_are_refused_when_the_feature_is_off(api: ServiceApi) -> None:
    """API-CHAT-SUGGEST: 400 bad_request "Suggested Questions Is Disabled." for an app without
    suggested_questions_after_answer."""
    _, ids = await conversation(api, "ann", "one")
    response = await api.client.get(f"/messages/{ids[0]}/suggested", headers=api.auth("chat"),
                                    params={"user": "ann"})
    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "Suggested Questions Is Disabled.", "status": 400}


async def test_suggestions_come_from_the_system_model(api: ServiceApi) -> None:
    """API-CHAT-SUGGEST, FEAT-FOLLOWUP: ``{result, data}`` with the default LLM's questions; none
    (still 200) when the workspace has no default LLM."""
    _, ids = await conversation(api, "ann", "Tea?", "Green or black?", app="curious")
    path = f"/messages/{ids[-1]}/suggested"
    without = await api.client.get(path, headers=api.auth("curious"), params={"user": "ann"})
    assert without.status_code == 200, without.text
    assert without.json() == {"result": "success", "data": []}
    await default_model_says(api, 'Here: ["Why green?", "How hot?", "How long?", "Milk?"]')
    response = await api.client.get(path, headers=api.auth("curious"), params={"user": "ann"})
    assert response.status_code == 200, response.text
    assert response.json() == {"result": "success", "data": ["Why green?", "How hot?", "How long?"]}
    _, chatflow_ids = await conversation(api, "ann", "hello", app="chatflow")
    flow = await api.client.get(f"/messages/{chatflow_ids[0]}/suggested", headers=api.auth("chatflow"),
                                params={"user": "ann"})
    assert flow.status_code == 200 and len(flow.json()["data"]) == 3


async def test_suggestion_errors(api: ServiceApi) -> None:
    """API-CHAT-SUGGEST errors: user required; another user's or an unknown message is 404
    "Message Not Exists."; a workflow app is not_chat_app."""
    _, ids = await conversation(api, "ann", "one", app="curious")
    path = f"/messages/{ids[0]}/suggested"
    no_user = await api.client.get(path, headers=api.auth("curious"))
    assert no_user.status_code == 400 and no_user.json()["message"] == "Arg user must be provided."
    for message_id, user in ((ids[0], "bob"), (MISSING, "ann")):
        response = await api.client.get(f"/messages/{message_id}/suggested", headers=api.auth("curious"),
                                        params={"user": user})
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Message Not Exists.", "status": 404}
    wrong = await api.client.get(path, headers=api.auth("workflow"), params={"user": "ann"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_chat_app"
