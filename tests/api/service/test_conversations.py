"""Conversations over HTTP: listing, deleting, renaming, and conversation variables (API-CONV-LIST,
API-CONV-DEL, API-CONV-RENAME, API-CONV-VARS, API-CONV-VAR-UPD, API-COMMON-USER, API-COMMON-PAGE,
API-COMMON-TS, API-COMMON-ROUTE). Conversations are made by real chats through ``/chat-messages``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.dsl import ECHO_CHAT, FLOW_WORKFLOW
from support.service_api import ServiceApi, service_api
from treadle.store import Conversation, ConversationVariable

CHAT = ECHO_CHAT

CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Counter}
workflow:
  conversation_variables:
  - {id: 0b6f0c1e-1111-4c3a-8d7e-000000000001, name: turns, value_type: number, value: 0, description: turns so far}
  - {id: 0b6f0c1e-1111-4c3a-8d7e-000000000002, name: topic, value_type: string, value: tea, description: ''}
  - {id: 0b6f0c1e-1111-4c3a-8d7e-000000000003, name: prefs, value_type: object, value: {}, description: ''}
  - {id: 0b6f0c1e-1111-4c3a-8d7e-000000000004, name: tags, value_type: 'array[string]', value: [], description: ''}
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: count
      data:
        type: assigner
        title: Count
        version: '2'
        items: [{variable_selector: [conversation, turns], operation: +=, input_type: constant, value: 1}]
    - id: answer
      data:
        type: answer
        title: Answer
        answer: "{{#sys.query#}} / {{#conversation.topic#}} / {{#conversation.turns#}}"
    edges:
    - {id: e1, source: start, target: count}
    - {id: e2, source: count, target: answer}
"""

WORKFLOW = FLOW_WORKFLOW

APPS = {"chat": CHAT, "chatflow": CHATFLOW, "workflow": WORKFLOW}
TURNS_ID = "0b6f0c1e-1111-4c3a-8d7e-000000000001"
TOPIC_ID = "0b6f0c1e-1111-4c3a-8d7e-000000000002"
PREFS_ID = "0b6f0c1e-1111-4c3a-8d7e-000000000003"
TAGS_ID = "0b6f0c1e-1111-4c3a-8d7e-000000000004"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


async def chat(api: ServiceApi, query: str, user: str, *, app: str = "chat", conversation_id: str = "",
               auto_name: bool = True) -> dict[str, Any]:
    response = await api.client.post("/chat-messages", headers=api.auth(app), json={
        "inputs": {}, "query": query, "user": user, "conversation_id": conversation_id,
        "auto_generate_name": auto_name,
    })
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settle(api: ServiceApi) -> None:
    """Let background work (conversation naming) finish."""
    await asyncio.gather(*api.state.background)


# -- API-CONV-LIST ---------------------------------------------------------------------------------


async def test_a_user_lists_their_own_conversations_most_recently_active_first(api: ServiceApi) -> None:
    """API-CONV-LIST, API-COMMON-USER, API-COMMON-TS: newest activity first, Unix-second timestamps,
    and only the caller's conversations."""
    first = await chat(api, "What is tea?", "ann")
    second = await chat(api, "Where do owls live?", "ann")
    await chat(api, "Bob's question", "bob")
    await chat(api, "and once more", "ann", conversation_id=first["conversation_id"])  # first is active again
    await settle(api)
    response = await api.client.get("/conversations", headers=api.auth("chat"), params={"user": "ann"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["limit"] == 20 and body["has_more"] is False
    assert [c["id"] for c in body["data"]] == [first["conversation_id"], second["conversation_id"]]
    item = body["data"][0]
    assert set(item) == {"id", "name", "inputs", "status", "introduction", "created_at", "updated_at"}
    assert item["name"] == "What is tea?" and item["status"] == "normal" and item["inputs"] == {}
    assert isinstance(item["created_at"], int) and abs(item["created_at"] - time.time()) < 120
    assert item["updated_at"] >= item["created_at"]
    bob = await api.client.get("/conversations", headers=api.auth("chat"), params={"user": "bob"})
    assert [c["name"] for c in bob.json()["data"]] == ["Bob's question"]
    nobody = await api.client.get("/conversations", headers=api.auth("chat"), params={"user": "carol"})
    assert nobody.json() == {"limit": 20, "has_more": False, "data": []}


async def test_conversations_page_with_last_id_in_every_sort_order(api: ServiceApi) -> None:
    """API-CONV-LIST, API-COMMON-PAGE: ``limit`` and ``last_id`` walk the list without gaps or repeats."""
    made = [(await chat(api, f"question {i}", "ann", auto_name=False))["conversation_id"] for i in range(5)]
    for sort_by, expected in (("created_at", made), ("-created_at", made[::-1]), ("-updated_at", made[::-1])):
        seen: list[str] = []
        last_id = None
        for _ in range(5):
            params: dict[str, Any] = {"user": "ann", "limit": 2, "sort_by": sort_by}
            if last_id:
                params["last_id"] = last_id
            page = (await api.client.get("/conversations", headers=api.auth("chat"), params=params)).json()
            seen += [c["id"] for c in page["data"]]
            last_id = seen[-1]
            if not page["has_more"]:
                break
        assert seen == expected, sort_by


async def test_bad_list_parameters_are_answered_400_or_404(api: ServiceApi) -> None:
    """API-CONV-LIST errors: limit out of 1..100, an unknown sort_by, a cursor that is not one of the
    user's conversations, and a workflow app's key (API-COMMON-ROUTE)."""
    ann = await chat(api, "hi", "ann")
    for params, field in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"sort_by": "name"}, "sort_by"),
                          ({"last_id": "nope"}, "last_id")):
        response = await api.client.get("/conversations", headers=api.auth("chat"), params={"user": "u", **params})
        assert response.status_code == 400, params
        assert response.json()["code"] == "invalid_param" and response.json()["params"] == field
    for last_id in (MISSING, ann["conversation_id"]):  # unknown, or another user's
        response = await api.client.get("/conversations", headers=api.auth("chat"),
                                        params={"user": "bob", "last_id": last_id})
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Last Conversation Not Exists.", "status": 404}
    wrong = await api.client.get("/conversations", headers=api.auth("workflow"), params={"user": "u"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_chat_app"


# -- API-CONV-DEL ----------------------------------------------------------------------------------


async def test_deleting_a_conversation_hides_it_but_keeps_the_row(api: ServiceApi) -> None:
    """API-CONV-DEL: 204 with no body; the row stays with ``is_deleted``; it is gone from the list
    and cannot be continued."""
    kept = await chat(api, "keep me", "ann")
    gone = await chat(api, "delete me", "ann")
    response = await api.client.request("DELETE", f"/conversations/{gone['conversation_id']}",
                                        headers=api.auth("chat"), json={"user": "ann"})
    assert response.status_code == 204 and response.content == b""
    async with api.db.session() as session:
        row = await session.get(Conversation, gone["conversation_id"])
        assert row is not None and row.is_deleted is True
    listed = await api.client.get("/conversations", headers=api.auth("chat"), params={"user": "ann"})
    assert [c["id"] for c in listed.json()["data"]] == [kept["conversation_id"]]
    again = await api.client.request("DELETE", f"/conversations/{gone['conversation_id']}",
                                     headers=api.auth("chat"), json={"user": "ann"})
    assert again.status_code == 404 and again.json()["message"] == "Conversation Not Exists."
    resumed = await api.client.post("/chat-messages", headers=api.auth("chat"), json={
        "inputs": {}, "query": "still there?", "user": "ann", "conversation_id": gone["conversation_id"]})
    assert resumed.status_code == 404


async def test_another_users_conversation_cannot_be_deleted(api: ServiceApi) -> None:
    """API-CONV-DEL, API-COMMON-USER: another user's conversation is 404 exactly as a missing one."""
    ann = await chat(api, "mine", "ann")
    for conversation_id in (ann["conversation_id"], MISSING, "not-a-uuid"):
        response = await api.client.request("DELETE", f"/conversations/{conversation_id}",
                                            headers=api.auth("chat"), json={"user": "bob"})
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Conversation Not Exists.", "status": 404}
    async with api.db.session() as session:
        row = await session.get(Conversation, ann["conversation_id"])
        assert row is not None and row.is_deleted is False


async def test_a_delete_without_user_acts_as_the_anonymous_user(api: ServiceApi) -> None:
    """API-CONV-DEL: ``user`` is optional; with none, the anonymous user's conversation is deleted."""
    anonymous = await api.client.post("/chat-messages", headers=api.auth("chat"),
                                      json={"inputs": {}, "query": "who am I", "user": ""})
    assert anonymous.status_code == 400  # a chat needs a user ...
    ann = await chat(api, "mine", "ann")
    response = await api.client.delete(f"/conversations/{ann['conversation_id']}", headers=api.auth("chat"))
    assert response.status_code == 404  # ... and the anonymous user owns no conversation of ann's


# -- API-CONV-RENAME -------------------------------------------------------------------------------


async def test_renaming_sets_the_name_and_answers_with_the_conversation(api: ServiceApi) -> None:
    """API-CONV-RENAME: the conversation object comes back with the new name; the row has it."""
    made = await chat(api, "first words", "ann")
    await settle(api)
    response = await api.client.post(f"/conversations/{made['conversation_id']}/name", headers=api.auth("chat"),
                                     json={"name": "Tea notes", "user": "ann"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == made["conversation_id"] and body["name"] == "Tea notes" and body["status"] == "normal"
    assert set(body) == {"id", "name", "inputs", "status", "introduction", "created_at", "updated_at"}
    async with api.db.session() as session:
        row = await session.get(Conversation, made["conversation_id"])
        assert row is not None and row.name == "Tea notes"
    listed = await api.client.get("/conversations", headers=api.auth("chat"), params={"user": "ann"})
    assert listed.json()["data"][0]["name"] == "Tea notes"


async def test_rename_errors(api: ServiceApi) -> None:
    """API-CONV-RENAME: a name is required unless auto_generate; user is required; too long a name
    is refused; another user's conversation is 404."""
    made = await chat(api, "first words", "ann")
    path = f"/conversations/{made['conversation_id']}/name"
    for body in ({"user": "ann"}, {"user": "ann", "name": "   "}, {"user": "ann", "auto_generate": False}):
        response = await api.client.post(path, headers=api.auth("chat"), json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid_param" and "name is required" in response.json()["message"]
    missing_user = await api.client.post(path, headers=api.auth("chat"), json={"name": "x"})
    assert missing_user.status_code == 400 and missing_user.json()["message"] == "Arg user must be provided."
    too_long = await api.client.post(path, headers=api.auth("chat"), json={"name": "x" * 256, "user": "ann"})
    assert too_long.status_code == 400 and too_long.json()["params"] == "name"
    other = await api.client.post(path, headers=api.auth("chat"), json={"name": "mine now", "user": "bob"})
    assert other.status_code == 404 and other.json()["message"] == "Conversation Not Exists."
    wrong = await api.client.post(path, headers=api.auth("workflow"), json={"name": "x", "user": "ann"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_chat_app"


async def test_auto_generate_without_a_system_model_uses_the_first_message(api: ServiceApi) -> None:
    """API-CONV-RENAME with auto_generate, FEAT-CONV-NAME: no default model, so the first message's words."""
    made = await chat(api, "How do owls see at night?", "ann", auto_name=False)
    await chat(api, "And bats?", "ann", conversation_id=made["conversation_id"])
    response = await api.client.post(f"/conversations/{made['conversation_id']}/name", headers=api.auth("chat"),
                                     json={"auto_generate": True, "user": "ann"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "How do owls see at night?"


async def test_auto_generate_asks_the_workspace_system_model(api: ServiceApi) -> None:
    """API-CONV-RENAME with auto_generate, FEAT-CONV-NAME: the default LLM writes the title."""
    made = await chat(api, "How do I brew green tea at home?", "ann", auto_name=False)
    reply = json.dumps({"Language Type": "English", "Your Reasoning": "tea", "Your Output": "Brewing green tea"})
    await api.supervisor.model_settings.save_credentials(api.tenant_id, "fake", {"script": json.dumps([reply])})
    await api.supervisor.model_settings.set_default_model(api.tenant_id, "llm", "fake", "script")
    response = await api.client.post(f"/conversations/{made['conversation_id']}/name", headers=api.auth("chat"),
                                     json={"auto_generate": True, "user": "ann"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Brewing green tea"
    async with api.db.session() as session:
        row = await session.get(Conversation, made["conversation_id"])
        assert row is not None and row.name == "Brewing green tea"


# -- API-CONV-VARS ---------------------------------------------------------------------------------


async def test_conversation_variables_are_listed_with_their_current_values(api: ServiceApi) -> None:
    """API-CONV-VARS: each variable with its type and value (as text), in the order declared."""
    made = await chat(api, "one", "ann", app="chatflow")
    await chat(api, "two", "ann", app="chatflow", conversation_id=made["conversation_id"])
    response = await api.client.get(f"/conversations/{made['conversation_id']}/variables",
                                    headers=api.auth("chatflow"), params={"user": "ann"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["limit"] == 20 and body["has_more"] is False
    by_name = {v["name"]: v for v in body["data"]}
    assert set(by_name) == {"turns", "topic", "prefs", "tags"}
    turns = by_name["turns"]
    assert set(turns) == {"id", "name", "value_type", "value", "description", "created_at", "updated_at"}
    assert turns["id"] == TURNS_ID and turns["value_type"] == "number" and turns["description"] == "turns so far"
    assert json.loads(turns["value"]) == 2  # the assigner ran twice
    assert by_name["topic"]["value"] == "tea" and by_name["prefs"]["value"] == "{}"
    assert by_name["tags"]["value_type"] == "array[string]"
    assert isinstance(turns["created_at"], int) and isinstance(turns["updated_at"], int)


async def test_conversation_variables_page_and_filter_by_name(api: ServiceApi) -> None:
    """API-CONV-VARS: ``limit`` with ``last_id``; ``variable_name`` matches part of a name, ignoring case."""
    made = await chat(api, "one", "ann", app="chatflow")
    path = f"/conversations/{made['conversation_id']}/variables"
    seen: list[str] = []
    params: dict[str, Any] = {"user": "ann", "limit": 3}
    first = (await api.client.get(path, headers=api.auth("chatflow"), params=params)).json()
    assert len(first["data"]) == 3 and first["has_more"] is True
    seen += [v["id"] for v in first["data"]]
    rest = (await api.client.get(path, headers=api.auth("chatflow"),
                                 params={**params, "last_id": seen[-1]})).json()
    assert rest["has_more"] is False
    seen += [v["id"] for v in rest["data"]]
    assert sorted(seen) == sorted([TURNS_ID, TOPIC_ID, PREFS_ID, TAGS_ID]) and len(seen) == 4
    found = (await api.client.get(path, headers=api.auth("chatflow"),
                                  params={"user": "ann", "variable_name": "TOP"})).json()
    assert [v["name"] for v in found["data"]] == ["topic"]
    none = (await api.client.get(path, headers=api.auth("chatflow"),
                                 params={"user": "ann", "variable_name": "t_p"})).json()
    assert none["data"] == []  # "_" is a character here, not a wildcard


async def test_conversation_variable_list_errors(api: ServiceApi) -> None:
    """API-CONV-VARS errors: another user's conversation, an unknown cursor, a name with other
    characters, and a limit out of range."""
    made = await chat(api, "one", "ann", app="chatflow")
    path = f"/conversations/{made['conversation_id']}/variables"
    other = await api.client.get(path, headers=api.auth("chatflow"), params={"user": "bob"})
    assert other.status_code == 404 and other.json()["message"] == "Conversation Not Exists."
    cursor = await api.client.get(path, headers=api.auth("chatflow"), params={"user": "ann", "last_id": MISSING})
    assert cursor.status_code == 404 and cursor.json()["message"] == "Conversation Variable Not Exists."
    for params in ({"variable_name": "a'; drop"}, {"limit": 0}, {"limit": 101}, {"variable_name": ""}):
        response = await api.client.get(path, headers=api.auth("chatflow"), params={"user": "ann", **params})
        assert response.status_code == 400, params
        assert response.json()["code"] == "invalid_param"


# -- API-CONV-VAR-UPD ------------------------------------------------------------------------------


async def test_a_variable_update_is_kept_and_used_by_the_next_turn(api: ServiceApi) -> None:
    """API-CONV-VAR-UPD: the new value is stored, answered as the variable object, and the
    conversation's next run sees it."""
    made = await chat(api, "one", "ann", app="chatflow")
    conversation_id = made["conversation_id"]
    response = await api.client.put(f"/conversations/{conversation_id}/variables/{TOPIC_ID}",
                                    headers=api.auth("chatflow"), json={"value": "owls", "user": "ann"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == TOPIC_ID and body["name"] == "topic" and body["value"] == "owls"
    assert body["value_type"] == "string" and isinstance(body["updated_at"], int)
    number = await api.client.put(f"/conversations/{conversation_id}/variables/{TURNS_ID}",
                                  headers=api.auth("chatflow"), json={"value": 10, "user": "ann"})
    assert number.status_code == 200 and number.json()["value"] == "10"
    prefs = await api.client.put(f"/conversations/{conversation_id}/variables/{PREFS_ID}",
                                 headers=api.auth("chatflow"), json={"value": {"milk": True}, "user": "ann"})
    assert prefs.status_code == 200 and json.loads(prefs.json()["value"]) == {"milk": True}
    async with api.db.session() as session:
        values = dict((await session.execute(select(ConversationVariable.name, ConversationVariable.value).where(
            ConversationVariable.conversation_id == conversation_id))).all())
    assert values["topic"] == "owls" and values["turns"] == 10 and values["prefs"] == {"milk": True}
    answer = (await chat(api, "two", "ann", app="chatflow", conversation_id=conversation_id))["answer"]
    assert answer.startswith("two / owls / ")
    async with api.db.session() as session:
        turns = await session.scalar(select(ConversationVariable.value).where(
            ConversationVariable.conversation_id == conversation_id, ConversationVariable.id == TURNS_ID))
    assert turns == 11  # the assigner added one to the value set through the API


async def test_a_value_of_the_wrong_type_is_refused(api: ServiceApi) -> None:
    """API-CONV-VAR-UPD: "Value type mismatch: expected string, got integer." (400 bad_request)."""
    made = await chat(api, "one", "ann", app="chatflow")
    base = f"/conversations/{made['conversation_id']}/variables"
    cases = (
        (TOPIC_ID, 5, "Value type mismatch: expected string, got integer."),
        (TURNS_ID, "5", "Value type mismatch: expected number, got string."),
        (TURNS_ID, True, "Value type mismatch: expected number, got boolean."),
        (PREFS_ID, [1], "Value type mismatch: expected object, got array[number]."),
        (TAGS_ID, ["a", 2], "Value type mismatch: expected array[string], got array[any]."),
        (TOPIC_ID, None, "Value type mismatch: expected string, got none."),
    )
    for variable_id, value, message in cases:
        response = await api.client.put(f"{base}/{variable_id}", headers=api.auth("chatflow"),
                                        json={"value": value, "user": "ann"})
        assert response.status_code == 400, value
        assert response.json() == {"code": "bad_request", "message": message, "status": 400}
    fine = await api.client.put(f"{base}/{TAGS_ID}", headers=api.auth("chatflow"),
                                json={"value": ["a", "b"], "user": "ann"})
    assert fine.status_code == 200 and json.loads(fine.json()["value"]) == ["a", "b"]
    async with api.db.session() as session:
        topic = await session.scalar(select(ConversationVariable.value).where(
            ConversationVariable.conversation_id == made["conversation_id"], ConversationVariable.id == TOPIC_ID))
    assert topic == "tea"


async def test_variable_update_errors(api: ServiceApi) -> None:
    """API-CONV-VAR-UPD: an unknown variable, another user's conversation, a missing value."""
    made = await chat(api, "one", "ann", app="chatflow")
    base = f"/conversations/{made['conversation_id']}/variables"
    unknown = await api.client.put(f"{base}/{MISSING}", headers=api.auth("chatflow"),
                                   json={"value": "x", "user": "ann"})
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "not_found", "message": "Conversation Variable Not Exists.", "status": 404}
    other = await api.client.put(f"{base}/{TOPIC_ID}", headers=api.auth("chatflow"),
                                 json={"value": "x", "user": "bob"})
    assert other.status_code == 404 and other.json()["message"] == "Conversation Not Exists."
    no_value = await api.client.put(f"{base}/{TOPIC_ID}", headers=api.auth("chatflow"), json={"user": "ann"})
    assert no_value.status_code == 400 and no_value.json()["code"] == "invalid_param"
    chat_app = await chat(api, "plain chat", "ann")
    none_here = await api.client.put(f"/conversations/{chat_app['conversation_id']}/variables/{TOPIC_ID}",
                                     headers=api.auth("chat"), json={"value": "x", "user": "ann"})
    assert none_here.status_code == 404 and none_here.json()["message"] == "Conversation Variable Not Exists."
