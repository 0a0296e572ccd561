"""The generation endpoints end to end over HTTP: chat, completion and workflow runs, streaming and
blocking, what they leave in the database, and stopping (API-CHAT-SEND, API-COMPL-SEND, API-WF-RUN,
API-WF-RUN-ID, API-CHAT-STOP, API-SSE-*, API-COMMON-MODE, API-COMMON-ROUTE)."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from support.dsl import SHOUT_WORKFLOW, TERSE_CHAT, WRITER_COMPLETION
from support.service_api import ServiceApi, open_stream, service_api
from treadle.api.service.runs import RunExecution
from treadle.graph import WorkflowRun as EngineRun
from treadle.store import Conversation, Message, NodeExecution, RunRecorder, Tenant, WorkflowRun

WORKFLOW = SHOUT_WORKFLOW

CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Parrot}
workflow:
  conversation_variables:
  - {id: 5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b, name: turns, value_type: number, value: 0, description: turns so far}
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: llm
      data:
        type: llm
        title: LLM
        model: {provider: fake, name: echo, mode: chat, completion_params: {}}
        prompt_template: [{role: user, text: "{{#sys.query#}}"}]
        memory: {window: {enabled: true, size: 10}, query_prompt_template: "{{#sys.query#}}"}
        context: {enabled: false}
        vision: {enabled: false}
    - id: count
      data:
        type: assigner
        title: Count
        version: '2'
        items: [{variable_selector: [conversation, turns], operation: +=, input_type: constant, value: 1}]
    - id: answer
      data: {type: answer, title: Answer, answer: "{{#llm.text#}} (turn {{#conversation.turns#}})"}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: count}
    - {id: e3, source: count, target: answer}
"""

CHAT = TERSE_CHAT

COMPLETION = WRITER_COMPLETION

APPS = {"workflow": WORKFLOW, "chatflow": CHATFLOW, "chat": CHAT, "completion": COMPLETION}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


def sse_events(body: str) -> list[dict[str, Any]]:
    events = []
    for frame in body.split("\n\n"):
        if frame.startswith("data: "):
            events.append(json.loads(frame[len("data: "):]))
    return events


async def test_a_blocking_workflow_run_answers_with_its_outputs_and_is_recorded(api: ServiceApi) -> None:
    response = await api.client.post(
        "/workflows/run", headers=api.auth("workflow"), json={"inputs": {"text": "hi"}, "user": "u1"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["status"] == "succeeded"
    assert body["data"]["outputs"] == {"shout": "HI!"}
    assert body["data"]["total_steps"] == 3
    assert body["workflow_run_id"] == body["data"]["id"]
    async with api.db.session() as session:
        run = await session.get(WorkflowRun, body["workflow_run_id"])
        assert run is not None and run.status == "succeeded" and run.outputs == {"shout": "HI!"}
        nodes = (await session.scalars(select(NodeExecution).where(NodeExecution.workflow_run_id == run.id))).all()
        assert sorted(n.node_id for n in nodes) == ["end", "start", "upper"]



@pytest.mark.parametrize("mode", ["workflow", "chatflow", "chat"])
async def test_a_finished_run_leaves_no_reference_cycle(api: ServiceApi, mode: str) -> None:
    """The run objects of a request go when it ends, by reference counting: under load, runs left
    for the cycle collector made its full collections pause the server for hundreds of ms."""
    body: dict[str, Any] = {"inputs": {"text": "hi"} if mode == "workflow" else {}, "user": "u1",
                            "response_mode": "blocking"}  # fmt: skip
    path = "/workflows/run" if mode == "workflow" else "/chat-messages"
    if mode != "workflow":
        body["query"] = "hello"
    first = await api.client.post(path, headers=api.auth(mode), json=body)  # warms the caches
    assert first.status_code == 200, first.text
    if mode != "workflow":  # the same conversation: a new one is named in the background
        body["conversation_id"] = first.json()["conversation_id"]
    gc.collect()
    gc.disable()
    try:
        response = await api.client.post(path, headers=api.auth(mode), json=body)
        assert response.status_code == 200, response.text
        await asyncio.sleep(0)  # the request's last callbacks
        alive = [type(o).__name__ for o in gc.get_objects() if isinstance(o, RunExecution | EngineRun | RunRecorder)]
    finally:
        gc.enable()
    assert alive == []


async def test_a_streaming_workflow_run_sends_the_documented_events(api: ServiceApi) -> None:
    response = await api.client.post(
        "/workflows/run", headers=api.auth("workflow"),
        json={"inputs": {"text": "yo"}, "user": "u1", "response_mode": "streaming"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert names.count("node_started") == 3 and names.count("node_finished") == 3
    assert events[-1]["data"]["outputs"] == {"shout": "YO!"}
    assert {e["task_id"] for e in events} == {events[0]["task_id"]}


async def test_inputs_the_start_node_refuses_are_answered_400(api: ServiceApi) -> None:
    """Missing or wrong inputs are invalid_param before any stream opens (as Dify checks the input
    form before it runs), naming the field; a refused chat leaves no conversation behind."""
    for mode in ("blocking", "streaming"):
        response = await api.client.post(
            "/workflows/run", headers=api.auth("workflow"), json={"inputs": {}, "user": "u", "response_mode": mode}
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_param" and "text" in response.json()["message"]
        refused = await api.client.post("/completion-messages", headers=api.auth("completion"),
                                        json={"inputs": {}, "user": "u", "response_mode": mode})
        assert refused.status_code == 400 and "topic" in refused.json()["message"]
    await asyncio.gather(*api.state.background)
    async with api.db.session() as session:
        assert (await session.scalars(select(Message))).all() == []


async def test_a_failed_workflow_run_is_a_body_whose_status_is_failed(api: ServiceApi) -> None:
    failing = WORKFLOW.replace('template: "{{ t | upper }}!"', 'template: "{{ (t | length) // 0 }}"')
    await api.add_app("failing", failing)
    response = await api.client.post("/workflows/run", headers=api.auth("failing"),
                                     json={"inputs": {"text": "x"}, "user": "u"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "failed" and data["error"]


async def test_a_chatflow_conversation_remembers_and_keeps_its_variables(api: ServiceApi) -> None:
    first = await api.client.post(
        "/chat-messages", headers=api.auth("chatflow"), json={"inputs": {}, "query": "one", "user": "ann"}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["event"] == "message" and body["mode"] == "advanced-chat"
    assert body["answer"] == "one (turn 1)"  # the conversation variable as the assigner left it
    conversation_id = body["conversation_id"]
    second = await api.client.post(
        "/chat-messages", headers=api.auth("chatflow"),
        json={"inputs": {}, "query": "two", "user": "ann", "conversation_id": conversation_id,
              "response_mode": "streaming"},
    )
    events = sse_events(second.text)
    names = [e["event"] for e in events]
    assert "message" in names and "message_end" in names and names[-1] == "workflow_finished"
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "two (turn 2)"
    second_run = events[-1]["workflow_run_id"]
    async with api.db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.dialogue_count == 2
        messages = (await session.scalars(select(Message).where(Message.conversation_id == conversation_id))).all()
        assert sorted(m.query for m in messages) == ["one", "two"]
        assert all(m.answer and m.status == "normal" and m.workflow_run_id for m in messages)
        llm = await session.scalar(select(NodeExecution).where(
            NodeExecution.workflow_run_id == second_run, NodeExecution.node_id == "llm"))
        assert llm is not None
        prompts = json.dumps(llm.process_data)
        assert "one" in prompts and "two" in prompts  # the first turn came back as memory
        from treadle.store import ConversationVariable

        turns = await session.scalar(select(ConversationVariable.value).where(
            ConversationVariable.conversation_id == conversation_id, ConversationVariable.name == "turns"))
        assert turns == 2


async def test_another_users_conversation_is_not_found(api: ServiceApi) -> None:
    first = await api.client.post(
        "/chat-messages", headers=api.auth("chat"), json={"inputs": {}, "query": "hi", "user": "ann"}
    )
    conversation_id = first.json()["conversation_id"]
    response = await api.client.post(
        "/chat-messages", headers=api.auth("chat"),
        json={"inputs": {}, "query": "hi", "user": "bob", "conversation_id": conversation_id},
    )
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Conversation Not Exists.", "status": 404}


async def test_a_chat_app_answers_blocking_with_usage(api: ServiceApi) -> None:
    response = await api.client.post(
        "/chat-messages", headers=api.auth("chat"), json={"inputs": {}, "query": "hello", "user": "u"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "chat" and "hello" in body["answer"]
    assert body["metadata"]["usage"]["total_tokens"] > 0
    assert body["id"] == body["message_id"]


async def test_a_completion_app_streams_message_and_message_end(api: ServiceApi) -> None:
    response = await api.client.post(
        "/completion-messages", headers=api.auth("completion"),
        json={"inputs": {"topic": "owls"}, "user": "u", "response_mode": "streaming"},
    )
    events = sse_events(response.text)
    assert events[-1]["event"] == "message_end"
    assert "owls" in "".join(e["answer"] for e in events if e["event"] == "message")
    assert all("conversation_id" not in e for e in events)
    async with api.db.session() as session:
        message = await session.get(Message, events[-1]["id"])
        assert message is not None and "owls" in message.answer and message.answer_tokens > 0


async def test_routes_check_the_apps_mode(api: ServiceApi) -> None:
    wrong = await api.client.post("/chat-messages", headers=api.auth("workflow"),
                                  json={"inputs": {}, "query": "x", "user": "u"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_chat_app"
    wrong = await api.client.post("/workflows/run", headers=api.auth("chat"), json={"inputs": {}, "user": "u"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_workflow_app"


async def test_a_request_without_a_valid_key_is_unauthorized(api: ServiceApi) -> None:
    missing = await api.client.post("/workflows/run", json={"inputs": {}, "user": "u"})
    assert missing.status_code == 401 and missing.json()["code"] == "unauthorized"
    wrong = await api.client.post("/workflows/run", headers={"Authorization": "Bearer app-" + "x" * 24},
                                  json={"inputs": {}, "user": "u"})
    assert wrong.status_code == 401



async def test_many_requests_of_a_key_not_in_the_cache_look_it_up_once(api: ServiceApi) -> None:
    """API-COMMON-AUTH under load: when a busy key's cached entry is gone, the requests that find it
    missing wait for one lookup rather than each querying the database (which stalled every client
    of the key every few seconds); a key that is not valid is refused to all of them."""
    body = {"inputs": {"text": "hi"}, "user": "u1", "response_mode": "blocking"}
    api.state.forget_app(api.apps["workflow"])
    lookups = 0

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal lookups
        lookups += "FROM api_keys" in statement

    sa_event.listen(api.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        answers = await asyncio.gather(
            *(api.client.post("/workflows/run", headers=api.auth("workflow"), json=body) for _ in range(20))
        )
        assert [a.status_code for a in answers] == [200] * 20
        assert lookups == 1
        wrong = {"Authorization": "Bearer app-" + "y" * 24}
        refused = await asyncio.gather(*(api.client.post("/workflows/run", headers=wrong, json=body) for _ in range(5)))
        assert [(r.status_code, r.json()["code"]) for r in refused] == [(401, "unauthorized")] * 5
        assert lookups == 2
    finally:
        sa_event.remove(api.db.engine.sync_engine, "before_cursor_execute", count)


async def test_a_missing_user_is_invalid_param(api: ServiceApi) -> None:
    response = await api.client.post("/workflows/run", headers=api.auth("workflow"), json={"inputs": {"text": "a"}})
    assert response.status_code == 400
    assert response.json()["message"] == "Arg user must be provided."


async def test_a_version_run_needs_a_published_version_id(api: ServiceApi) -> None:
    manager = api.manager(api.tenant_id)
    versions = await manager.versions(api.apps["workflow"])
    draft = next(v for v in versions if v.version == "draft")
    published = next(v for v in versions if v.version != "draft")
    ok = await api.client.post(f"/workflows/{published.id}/run", headers=api.auth("workflow"),
                               json={"inputs": {"text": "a"}, "user": "u"})
    assert ok.status_code == 200 and ok.json()["data"]["workflow_id"] == published.id
    refused = await api.client.post(f"/workflows/{draft.id}/run", headers=api.auth("workflow"),
                                    json={"inputs": {"text": "a"}, "user": "u"})
    assert refused.status_code == 400 and refused.json()["code"] == "bad_request"
    bad = await api.client.post("/workflows/nope/run", headers=api.auth("workflow"),
                                json={"inputs": {"text": "a"}, "user": "u"})
    assert bad.status_code == 400


MODERATED_CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Careful}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: ""
  user_input_form: []
  sensitive_word_avoidance:
    enabled: true
    type: keywords
    config:
      keywords: "forbidden\\nsecret plan"
      inputs_config: {enabled: true, preset_response: "I cannot talk about that."}
      outputs_config: {enabled: true, preset_response: "[removed]"}
"""


async def test_input_moderation_answers_with_the_preset_response(api: ServiceApi) -> None:
    """FEAT-MODERATION: a flagged query is answered with the preset response, without the model."""
    await api.add_app("careful", MODERATED_CHAT)
    blocking = await api.client.post("/chat-messages", headers=api.auth("careful"),
                                     json={"inputs": {}, "query": "tell me the FORBIDDEN thing", "user": "u"})
    assert blocking.status_code == 200, blocking.text
    assert blocking.json()["answer"] == "I cannot talk about that."
    assert blocking.json()["metadata"]["usage"]["total_tokens"] == 0
    streaming = await api.client.post("/chat-messages", headers=api.auth("careful"), json={
        "inputs": {}, "query": "forbidden", "user": "u", "response_mode": "streaming"})
    events = sse_events(streaming.text)
    assert [e["event"] for e in events] == ["message", "message_end"]
    assert events[0]["answer"] == "I cannot talk about that."


async def test_output_moderation_replaces_a_flagged_answer(api: ServiceApi) -> None:
    """FEAT-MODERATION on outputs: the echo model says the keyword back only when the input check
    lets it through, so the query is overridden... here the input check flags first; a query that
    slips the input check (keyword split across inputs) is caught on the way out."""
    dsl = MODERATED_CHAT.replace("inputs_config: {enabled: true", "inputs_config: {enabled: false")
    await api.add_app("outputs", dsl)
    streaming = await api.client.post("/chat-messages", headers=api.auth("outputs"), json={
        "inputs": {}, "query": "the secret plan is ready", "user": "u", "response_mode": "streaming"})
    events = sse_events(streaming.text)
    names = [e["event"] for e in events]
    assert "message_replace" in names and names[-1] == "message_end"
    replace = next(e for e in events if e["event"] == "message_replace")
    assert replace["answer"] == "[removed]"
    assert not any("secret plan" in e.get("answer", "") for e in events if e["event"] == "message")
    async with api.db.session() as session:
        message = await session.get(Message, events[-1]["id"])
        assert message is not None and message.answer == "[removed]"
    blocking = await api.client.post("/chat-messages", headers=api.auth("outputs"), json={
        "inputs": {}, "query": "the secret plan again", "user": "u"})
    assert blocking.json()["answer"] == "[removed]"


async def test_a_new_conversation_is_named_after_its_first_message(api: ServiceApi) -> None:
    """FEAT-AUTONAME: with no system model the name is the first words of the first message."""
    response = await api.client.post("/chat-messages", headers=api.auth("chat"), json={
        "inputs": {}, "query": "How do owls see at night?", "user": "u"})
    conversation_id = response.json()["conversation_id"]
    await asyncio.gather(*api.state.background)
    async with api.db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.name == "How do owls see at night?"
    unnamed = await api.client.post("/chat-messages", headers=api.auth("chat"), json={
        "inputs": {}, "query": "Keep me nameless", "user": "u", "auto_generate_name": False})
    await asyncio.gather(*api.state.background)
    async with api.db.session() as session:
        conversation = await session.get(Conversation, unnamed.json()["conversation_id"])
        assert conversation is not None and conversation.name == "New conversation"


SLOW_CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Slow}
model_config:
  model:
    provider: fake
    name: script
    mode: chat
    completion_params: {script: '[{"content": "one two three four five six seven eight", "delay_ms": 300}]'}
  pre_prompt: ""
  user_input_form: []
"""


async def test_stopping_a_streaming_run(api: ServiceApi) -> None:
    """API-CHAT-STOP: only the user who started a task stops it; the answer so far is kept."""
    await api.add_app("slow", SLOW_CHAT)
    stream = await open_stream(api, api.app, "/chat-messages", "slow", {"inputs": {}, "query": "count", "user": "ann"})
    first = await stream.next_event()  # a piece of the answer is out
    assert first is not None and first["event"] == "message"
    task_id = first["task_id"]
    other = await api.client.post(f"/chat-messages/{task_id}/stop", headers=api.auth("slow"), json={"user": "bob"})
    assert other.json() == {"result": "success"}
    assert list(api.state.tasks) == [task_id]  # still running: bob did not start it
    mine = await api.client.post(f"/chat-messages/{task_id}/stop", headers=api.auth("slow"), json={"user": "ann"})
    assert mine.json() == {"result": "success"}
    events = [first, *await stream.rest()]
    assert events[-1]["event"] == "message_end"
    answer = "".join(e["answer"] for e in events if e["event"] == "message")
    assert answer and answer != "one two three four five six seven eight"
    async with api.db.session() as session:
        message = await session.get(Message, events[-1]["id"])
        assert message is not None and message.answer == answer


FILE_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Files}
workflow:
  graph:
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {variable: doc, label: Doc, type: file, required: true, allowed_file_types: [document],
           allowed_file_upload_methods: [local_file, remote_url]}
    - id: end
      data:
        type: end
        title: End
        outputs:
        - {variable: name, value_selector: [start, doc, name]}
        - {variable: extension, value_selector: [start, doc, extension]}
    edges:
    - {id: e1, source: start, target: end}
"""


async def test_a_file_input_names_an_upload_of_the_workspace(api: ServiceApi) -> None:
    """API-WF-RUN: file variables take file objects; a local_file is the workspace's upload, whose
    name and type the run sees; another workspace's upload id is refused."""
    await api.add_app("files", FILE_WORKFLOW)
    record = await api.state.files.upload(api.tenant_id, filename="notes.txt", content=b"hello", created_by="u")
    doc = {"type": "document", "transfer_method": "local_file", "upload_file_id": record.id}
    response = await api.client.post("/workflows/run", headers=api.auth("files"),
                                     json={"inputs": {"doc": doc}, "user": "u"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["outputs"] == {"name": "notes.txt", "extension": ".txt"}
    other = Tenant(name="Other")
    async with api.db.session() as session:
        session.add(other)
    foreign = await api.state.files.upload(other.id, filename="x.txt", content=b"x", created_by="v")
    refused = await api.client.post("/workflows/run", headers=api.auth("files"), json={
        "inputs": {"doc": {**doc, "upload_file_id": foreign.id}}, "user": "u"})
    assert refused.status_code == 400 and "inputs.doc" in refused.json()["message"]


async def test_workflow_finished_lists_the_files_among_the_outputs(api: ServiceApi) -> None:
    """API-SSE-WF-FINISH: ``files`` holds the run's output files."""
    passing = FILE_WORKFLOW.replace("- {variable: name, value_selector: [start, doc, name]}",
                                    "- {variable: doc, value_selector: [start, doc]}")
    await api.add_app("passing", passing)
    record = await api.state.files.upload(api.tenant_id, filename="a.md", content=b"# a", created_by="u")
    doc = {"type": "document", "transfer_method": "local_file", "upload_file_id": record.id}
    response = await api.client.post("/workflows/run", headers=api.auth("passing"),
                                     json={"inputs": {"doc": doc}, "user": "u", "response_mode": "streaming"})
    finished = sse_events(response.text)[-1]
    assert finished["event"] == "workflow_finished"
    assert [f["id"] for f in finished["data"]["files"]] == [record.id]


SPEAKING_CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Speaker}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: ""
  user_input_form: []
  text_to_speech: {enabled: true, voice: alloy, language: en-US, autoPlay: enabled}
"""


async def test_auto_play_speech_streams_the_answer_as_audio(api: ServiceApi) -> None:
    """API-SSE-TTS: with text to speech on auto-play, the answer comes as base64 audio chunks and a
    closing tts_message_end, read by the workspace's default TTS model."""
    await api.supervisor.model_settings.set_default_model(api.tenant_id, "tts", "fake", "fake-tts")
    await api.add_app("speaker", SPEAKING_CHAT)
    response = await api.client.post("/chat-messages", headers=api.auth("speaker"), json={
        "inputs": {}, "query": "read me", "user": "u", "response_mode": "streaming"})
    events = sse_events(response.text)
    names = [e["event"] for e in events]
    assert names.count("tts_message_end") == 1 and "tts_message" in names
    assert names.index("tts_message_end") > names.index("message")
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["event"] == "tts_message")
    assert audio
    assert names[-1] == "message_end"


async def test_an_app_runs_at_most_its_active_request_limit(api: ServiceApi) -> None:
    """API-ERR 429 too_many_requests: requests beyond the app's concurrency limit are refused while
    the others run; once they end, the app takes requests again."""
    await api.add_app("slow", SLOW_CHAT)
    api.state.max_active_requests = 1
    first = await open_stream(api, api.app, "/chat-messages", "slow", {"inputs": {}, "query": "a", "user": "u"})
    assert api.state.tasks.active(api.apps["slow"]) == 1
    refused = await api.client.post("/chat-messages", headers=api.auth("slow"),
                                    json={"inputs": {}, "query": "b", "user": "u"})
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_requests"
    other_app = await api.client.post("/chat-messages", headers=api.auth("chat"),
                                      json={"inputs": {}, "query": "c", "user": "u"})
    assert other_app.status_code == 200  # the limit is per app
    for task_id in list(api.state.tasks):
        await api.client.post(f"/chat-messages/{task_id}/stop", headers=api.auth("slow"), json={"user": "u"})
    assert (await first.rest())[-1]["event"] == "message_end"
    assert api.state.tasks.active(api.apps["slow"]) == 0
    stopped_early = SLOW_CHAT.replace('"delay_ms": 300', '"delay_ms": 1')
    await api.add_app("quick", stopped_early)
    api.state.max_active_requests = 1
    again = await api.client.post("/chat-messages", headers=api.auth("quick"),
                                  json={"inputs": {}, "query": "d", "user": "u"})
    assert again.status_code == 200


async def test_an_annotated_question_is_answered_without_the_model(api: ServiceApi) -> None:
    """FEAT-ANNOTATION-REPLY: once reply is on, a query matching an annotation's question above the
    threshold gets the annotation's answer (no tokens spent), and its hit count goes up; other
    queries reach the model."""
    created = await api.client.post("/apps/annotations", headers=api.auth("chat"),
                                    json={"question": "What are your opening hours?", "answer": "Nine to five."})
    assert created.status_code == 201, created.text
    job = await api.client.post("/apps/annotation-reply/enable", headers=api.auth("chat"), json={
        "embedding_provider_name": "fake", "embedding_model_name": "fake-embedding", "score_threshold": 0.9})
    assert job.status_code == 200, job.text
    await asyncio.gather(*api.state.background)
    hit = await api.client.post("/chat-messages", headers=api.auth("chat"),
                                json={"inputs": {}, "query": "What are your  opening hours?", "user": "u"})
    assert hit.status_code == 200, hit.text
    assert hit.json()["answer"] == "Nine to five."
    assert hit.json()["metadata"]["usage"]["total_tokens"] == 0
    miss = await api.client.post("/chat-messages", headers=api.auth("chat"),
                                 json={"inputs": {}, "query": "Do you sell owls?", "user": "u"})
    assert miss.json()["answer"] == "Do you sell owls?"  # the echo model answered
    listed = await api.client.get("/apps/annotations", headers=api.auth("chat"))
    assert listed.json()["data"][0]["hit_count"] == 1


API_MODERATED_CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Extension moderated}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: ""
  user_input_form: []
  sensitive_word_avoidance:
    enabled: true
    type: api
    config:
      api_based_extension_id: EXTENSION_ID
      inputs_config: {enabled: true, preset_response: ""}
      outputs_config: {enabled: true, preset_response: ""}
"""


async def test_moderation_by_an_api_extension(api: ServiceApi) -> None:
    """FEAT-MODERATION (API extension): the workspace's extension is called at the input and output
    points; it may answer directly, override the query, or rewrite the answer."""
    from support.extension_server import KEY, ExtensionServer
    from treadle.runtime import ApiExtensions

    with ExtensionServer() as server:
        extensions = ApiExtensions(api.db, api.state.cipher, api.tenant_id)
        extension = await extensions.create("moderator", server.url_for("/moderate"), KEY)
        await api.add_app("moderated", API_MODERATED_CHAT.replace("EXTENSION_ID", extension.id))
        refused = await api.client.post("/chat-messages", headers=api.auth("moderated"),
                                        json={"inputs": {}, "query": "please refuse", "user": "u"})
        assert refused.status_code == 200, refused.text
        assert refused.json()["answer"] == "Refused."
        overridden = await api.client.post("/chat-messages", headers=api.auth("moderated"),
                                           json={"inputs": {}, "query": "a blocked word", "user": "u"})
        assert overridden.json()["answer"] == "a [censored] word"  # echo of the overridden query
        points = [call["point"] for call in server.calls]
        assert points.count("app.moderation.input") == 2 and "app.moderation.output" in points


AGENT_CHAT = """\
version: 0.3.0
kind: app
app: {mode: agent-chat, name: Agent}
model_config:
  model:
    provider: fake
    name: script
    mode: chat
    completion_params:
      script: >-
        [{"content": "", "tool_calls": [{"name": "current_time", "arguments": {"timezone": "UTC"}}]},
        "It is late."]
  pre_prompt: "You tell the time."
  user_input_form: []
  agent_mode:
    enabled: true
    max_iteration: 5
    strategy: function_call
    tools:
    - {enabled: true, provider_id: time, provider_name: time, provider_type: builtin, tool_name: current_time,
       tool_parameters: {format: '', timezone: ''}}
"""


async def test_an_agent_chat_app_answers_with_its_thoughts(api: ServiceApi) -> None:
    """API-SSE-AGENT-THOUGHT: an agent-chat app streams agent_thought and agent_message events, keeps
    its thoughts with the message; blocking mode answers too (Dify refuses it for agent-chat)."""
    await api.add_app("agent", AGENT_CHAT)
    streamed = await api.client.post("/chat-messages", headers=api.auth("agent"), json={
        "inputs": {}, "query": "what time is it?", "user": "u", "response_mode": "streaming"})
    assert streamed.status_code == 200, streamed.text
    events = sse_events(streamed.text)
    names = [e["event"] for e in events]
    assert "agent_thought" in names and "agent_message" in names and names[-1] == "message_end"
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    assert any(t["tool"] == "current_time" for t in thoughts)
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message") == "It is late."
    async with api.db.session() as session:
        message = await session.get(Message, events[-1]["id"])
        assert message is not None and message.answer == "It is late."
        assert any(t["tool"] == "current_time" for t in message.agent_thoughts)
    blocking = await api.client.post("/chat-messages", headers=api.auth("agent"),
                                     json={"inputs": {}, "query": "and now?", "user": "u"})
    assert blocking.status_code == 200, blocking.text
    assert blocking.json()["mode"] == "agent-chat" and blocking.json()["answer"]
