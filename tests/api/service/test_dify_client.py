"""Issue 5 acceptance: the official Dify Python client (``dify-client`` 0.1.10 from PyPI) against a
live ``treadle serve`` — chat, completion, files, feedback, conversations and messages, streaming and
blocking (API-CHAT-SEND, API-COMPL-SEND, API-FILE-UPLOAD, API-FB-SUBMIT, API-CONV-LIST,
API-CONV-RENAME, API-MSG-LIST, API-APP-PARAMS)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dify_client import ChatClient, CompletionClient, DifyClient  # type: ignore[import-untyped]
from support.serve import TREADLE, running_server

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Client chat}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "You repeat what you are told."
  user_input_form: [{text-input: {variable: mood, label: Mood, required: false}}]
  opening_statement: "Say something."
  suggested_questions_after_answer: {enabled: true}
"""

COMPLETION = """\
version: 0.3.0
kind: app
app: {mode: completion, name: Client writer}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "A poem about {{topic}}"
  user_input_form: [{text-input: {variable: topic, label: Topic, required: true}}]
"""

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082"
)


def _cli(home: Path, *args: str) -> Any:
    env = {**os.environ, "TREADLE_HOME": str(home)}
    env.pop("TREADLE_CONFIG", None)
    done = subprocess.run([TREADLE, *args], env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


def _key(home: Path, dsl: str, name: str) -> str:
    path = home.parent / f"{name}.yml"
    path.write_text(dsl)
    app = _cli(home, "app", "import", str(path), "--json")
    key: str = _cli(home, "app", "key", app["id"], "--json")["token"]
    return key


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("dify-client")
    home = root / "home"
    with running_server(home, root / "server.log") as info:
        info = {**info, "chat_key": _key(home, CHAT, "chat"), "completion_key": _key(home, COMPLETION, "completion")}
        yield info


def _sse(response: Any) -> list[dict[str, Any]]:
    events = []
    for line in response.iter_lines(decode_unicode=True):
        if line and line.startswith("data: "):
            events.append(json.loads(line[len("data: "):]))
    return events


def _client(cls: type[Any], server: dict[str, Any], key: str) -> Any:
    client = cls(server[key])
    client.base_url = f"{server['url']}/v1"
    return client


def test_chat_blocking_and_streaming_conversations_messages_and_feedback(server: dict[str, Any]) -> None:
    chat = _client(ChatClient, server, "chat_key")
    first = chat.create_chat_message(inputs={"mood": "calm"}, query="hello there", user="alice")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["answer"] == "hello there" and body["event"] == "message"
    conversation_id = body["conversation_id"]

    streamed = chat.create_chat_message(
        inputs={}, query="second turn", user="alice", response_mode="streaming", conversation_id=conversation_id
    )
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = _sse(streamed)
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "second turn"
    end = events[-1]
    assert end["event"] == "message_end" and end["conversation_id"] == conversation_id
    message_id = end["id"]

    conversations = chat.get_conversations(user="alice")
    assert conversations.status_code == 200, conversations.text
    listed = conversations.json()
    assert [c["id"] for c in listed["data"]] == [conversation_id]
    assert listed["data"][0]["inputs"] == {"mood": "calm"}
    assert chat.get_conversations(user="bob").json()["data"] == []

    messages = chat.get_conversation_messages(user="alice", conversation_id=conversation_id)
    assert messages.status_code == 200, messages.text
    history = messages.json()["data"]
    assert [m["query"] for m in history] == ["hello there", "second turn"]
    assert [m["answer"] for m in history] == ["hello there", "second turn"]

    renamed = chat.rename_conversation(conversation_id, "Greetings", "alice")
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Greetings"

    liked = chat.message_feedback(message_id, "like", "alice")
    assert liked.status_code == 200 and liked.json() == {"result": "success"}
    again = chat.get_conversation_messages(user="alice", conversation_id=conversation_id).json()["data"]
    assert {m["id"]: (m["feedback"] or {}).get("rating") for m in again}[message_id] == "like"


def test_files_upload_and_a_chat_message_that_sends_one(server: dict[str, Any]) -> None:
    chat = _client(ChatClient, server, "chat_key")
    uploaded = chat.file_upload("carol", {"file": ("dot.png", PNG, "image/png")})
    assert uploaded.status_code == 201, uploaded.text
    record = uploaded.json()
    assert record["name"] == "dot.png" and record["extension"] == "png" and record["mime_type"] == "image/png"
    files = [{"type": "image", "transfer_method": "local_file", "upload_file_id": record["id"]}]
    answer = chat.create_chat_message(inputs={}, query="look at this", user="carol", files=files)
    assert answer.status_code == 200, answer.text
    history = chat.get_conversation_messages(user="carol", conversation_id=answer.json()["conversation_id"]).json()
    sent = history["data"][0]["message_files"]
    assert [f["upload_file_id"] for f in sent] == [record["id"]] and sent[0]["belongs_to"] == "user"
    assert sent[0]["transfer_method"] == "local_file" and sent[0]["url"]


def test_completion_blocking_and_streaming(server: dict[str, Any]) -> None:
    completion = _client(CompletionClient, server, "completion_key")
    blocking = completion.create_completion_message(inputs={"topic": "rain"}, response_mode="blocking", user="dave")
    assert blocking.status_code == 200, blocking.text
    assert blocking.json()["mode"] == "completion" and "rain" in blocking.json()["answer"]
    streamed = completion.create_completion_message(inputs={"topic": "snow"}, response_mode="streaming", user="dave")
    events = _sse(streamed)
    assert events[-1]["event"] == "message_end"
    assert "snow" in "".join(e["answer"] for e in events if e["event"] == "message")
    feedback = completion.message_feedback(events[-1]["id"], "dislike", "dave")
    assert feedback.status_code == 200, feedback.text


def test_parameters_say_what_the_app_offers(server: dict[str, Any]) -> None:
    client = _client(DifyClient, server, "chat_key")
    parameters = client.get_application_parameters("alice")
    assert parameters.status_code == 200, parameters.text
    body = parameters.json()
    assert body["opening_statement"] == "Say something."
    assert body["suggested_questions_after_answer"] == {"enabled": True}
    (field,) = body["user_input_form"]
    assert field["text-input"]["variable"] == "mood" and field["text-input"]["required"] is False
    assert body["system_parameters"]["file_size_limit"] > 0


def test_a_wrong_key_is_refused_with_the_error_envelope(server: dict[str, Any]) -> None:
    chat = ChatClient("app-" + "0" * 24)
    chat.base_url = f"{server['url']}/v1"
    refused = chat.create_chat_message(inputs={}, query="hi", user="x")
    assert refused.status_code == 401
    assert set(refused.json()) == {"code", "message", "status"}
