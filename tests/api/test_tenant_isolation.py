"""Issue 5 acceptance: tenant isolation, walked over every route.

Workspace A has one app of each kind with records of every sort (conversations, messages, variables,
feedback, files, annotations, workflow runs, end users, reply jobs). Workspace B has apps of the same
kinds and its own keys. With B's credentials, every route that names one of A's records answers 404
(or 403), and every list shows none of A's records. Within one app, end user Y never sees end user
X's conversations. The Knowledge API is walked the same way with each workspace's knowledge key
(workspace A has a dataset with a document, chunk, child chunk, metadata field and tag). The walk
table must name every ``/v1`` route: a route added without an entry fails
:func:`test_the_walk_covers_every_service_route`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route
from support.knowledge import knowledge_key
from support.service_api import ServiceApi, open_stream, service_api
from treadle.store import ChildChunk, DocumentSegment, Tenant

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: NAME}
model_config:
  model:
    provider: fake
    name: script
    mode: chat
    completion_params: {script: '[{"content": "alpha beta gamma delta", "delay_ms": 150}, "ok", "ok", "ok", "ok"]'}
  pre_prompt: ""
  user_input_form: []
  suggested_questions_after_answer: {enabled: true}
  text_to_speech: {enabled: true}
"""

COMPLETION = """\
version: 0.3.0
kind: app
app: {mode: completion, name: NAME}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "Say {{x}}"
  user_input_form: [{text-input: {variable: x, label: X, required: false}}]
"""

CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: NAME}
workflow:
  conversation_variables:
  - {id: 0e7f7c1e-8a55-4a70-9a57-2f9a4c1b5d6e, name: note, value_type: string, value: "", description: ""}
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: answer
      data: {type: answer, title: Answer, answer: "{{#sys.query#}}"}
    edges:
    - {id: e1, source: start, target: answer}
"""

WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: NAME}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: [{variable: text, label: Text, type: text-input, required: false}]}
    - id: end
      data: {type: end, title: End, outputs: [{variable: out, value_selector: [start, text]}]}
    edges:
    - {id: e1, source: start, target: end}
"""

KINDS = {"chat": CHAT, "completion": COMPLETION, "chatflow": CHATFLOW, "workflow": WORKFLOW}
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082"
)


@dataclass
class World:
    """Workspace A's records, and the API to reach them with B's keys."""

    api: ServiceApi
    ids: dict[str, str] = field(default_factory=dict)

    def a(self, kind: str) -> dict[str, str]:
        return self.api.auth(f"a-{kind}")

    def b(self, kind: str) -> dict[str, str]:
        return self.api.auth(f"b-{kind}")


async def _ok(response: Awaitable[httpx.Response], status: int = 200) -> dict[str, Any]:
    answered = await response
    assert answered.status_code == status, answered.text
    body: dict[str, Any] = answered.json() if answered.content else {}
    return body


async def _build(api: ServiceApi) -> World:
    other = Tenant(name="Workspace B")
    async with api.db.session() as session:
        session.add(other)
    for kind, dsl in KINDS.items():
        await api.add_app(f"a-{kind}", dsl.replace("NAME", f"A {kind}"))
        await api.add_app(f"b-{kind}", dsl.replace("NAME", f"B {kind}"), tenant_id=other.id)
    world = World(api)
    c = api.client
    chat = await _ok(c.post("/chat-messages", headers=world.a("chat"), json={"inputs": {}, "query": "x", "user": "x"}))
    world.ids.update(conversation=chat["conversation_id"], message=chat["message_id"])
    flow = await _ok(c.post("/chat-messages", headers=world.a("chatflow"),
                            json={"inputs": {}, "query": "hello", "user": "x"}))
    world.ids["flow_conversation"] = flow["conversation_id"]
    variables = await _ok(c.get(f"/conversations/{flow['conversation_id']}/variables", headers=world.a("chatflow"),
                                params={"user": "x"}))
    world.ids["variable"] = variables["data"][0]["id"]
    await _ok(c.post(f"/messages/{chat['message_id']}/feedbacks", headers=world.a("chat"),
                     json={"rating": "like", "user": "x"}))
    completion = await _ok(c.post("/completion-messages", headers=world.a("completion"),
                                  json={"inputs": {"x": "hi"}, "user": "x"}))
    world.ids["completion_message"] = completion["message_id"]
    run = await _ok(c.post("/workflows/run", headers=world.a("workflow"), json={"inputs": {"text": "t"}, "user": "x"}))
    world.ids.update(run=run["workflow_run_id"], workflow=run["data"]["workflow_id"])
    upload = await _ok(c.post("/files/upload", headers=world.a("chat"), data={"user": "x"},
                              files={"file": ("dot.png", PNG, "image/png")}), 201)
    world.ids.update(file=upload["id"], end_user=upload["created_by"])
    annotation = await _ok(c.post("/apps/annotations", headers=world.a("chat"),
                                  json={"question": "q?", "answer": "a."}), 201)
    world.ids["annotation"] = annotation["id"]
    job = await _ok(c.post("/apps/annotation-reply/enable", headers=world.a("chat"), json={
        "embedding_provider_name": "fake", "embedding_model_name": "fake-embedding", "score_threshold": 0.9}))
    world.ids["job"] = job["job_id"]
    await asyncio.gather(*api.state.background)
    await _knowledge(world, other.id)
    return world


async def _knowledge(world: World, other_tenant: str) -> None:
    """Workspace A's knowledge: a dataset with a document, a chunk, a child chunk, a metadata field
    and a tag; each workspace has its own knowledge key."""
    api, c = world.api, world.api.client
    api.keys["a-knowledge"] = await knowledge_key(api.db, api.tenant_id)
    api.keys["b-knowledge"] = await knowledge_key(api.db, other_tenant)
    a = world.a("knowledge")
    dataset = await _ok(c.post("/datasets", headers=a, json={"name": "A handbook", "indexing_technique": "economy"}))
    made = await _ok(c.post(f"/datasets/{dataset['id']}/document/create-by-text", headers=a,
                            json={"name": "A doc", "text": "A's secret text."}))
    field = await _ok(c.post(f"/datasets/{dataset['id']}/metadata", headers=a,
                             json={"type": "string", "name": "owner"}), 201)
    tag = await _ok(c.post("/datasets/tags", headers=a, json={"name": "A tag"}))
    await _ok(c.post("/datasets/tags/binding", headers=a, json={"tag_ids": [tag["id"]], "target_id": dataset["id"]}),
              204)
    document_id = made["document"]["id"]
    async with api.db.session() as session:
        segment = DocumentSegment(tenant_id=api.tenant_id, dataset_id=dataset["id"], document_id=document_id,
                                  position=1, content="A's secret text.")
        session.add(segment)
        await session.flush()
        child = ChildChunk(tenant_id=api.tenant_id, dataset_id=dataset["id"], document_id=document_id,
                           segment_id=segment.id, position=1, content="A's secret")
        session.add(child)
        await session.flush()
        segment_id, child_id = segment.id, child.id
    world.ids.update(dataset=dataset["id"], document=document_id, batch=made["batch"], segment=segment_id,
                     child=child_id, field=field["id"], tag=tag["id"])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with service_api(tmp_path, backend=request.param) as api:
        yield await _build(api)


Call = Callable[[World], Awaitable[httpx.Response]]


def _get(path: str, kind: str, **params: str) -> Call:
    async def call(w: World) -> httpx.Response:
        query = {"user": "x", **{name: value.format(**w.ids) for name, value in params.items()}}
        return await w.api.client.get(path.format(**w.ids), headers=w.b(kind), params=query)
    return call


def _upload(path: str) -> Call:
    async def call(w: World) -> httpx.Response:
        return await w.api.client.post(path.format(**w.ids), headers=w.b("knowledge"),
                                       data={"data": '{"process_rule": {"mode": "automatic"}}'},
                                       files={"file": ("b.txt", b"B's text", "text/plain")})
    return call


def _send(method: str, path: str, kind: str, body: dict[str, Any]) -> Call:
    async def call(w: World) -> httpx.Response:
        text = json.dumps(body)
        for name, value in w.ids.items():
            text = text.replace("{" + name + "}", value)
        return await w.api.client.request(method, path.format(**w.ids), headers={**w.b(kind), "Content-Type":
                                          "application/json"}, content=text)
    return call


#: Routes that name a record of workspace A in their path or body: (method, route path) -> call with B's key.
NAMED: dict[tuple[str, str], Call] = {
    ("POST", "/workflows/{workflow_id}/run"): _send("POST", "/workflows/{workflow}/run", "workflow",
                                                   {"inputs": {}, "user": "x"}),
    ("GET", "/workflows/run/{workflow_run_id}"): _get("/workflows/run/{run}", "workflow"),
    ("DELETE", "/conversations/{conversation_id}"): _send("DELETE", "/conversations/{conversation}", "chat",
                                                         {"user": "x"}),
    ("POST", "/conversations/{conversation_id}/name"): _send("POST", "/conversations/{conversation}/name", "chat",
                                                            {"name": "mine now", "user": "x"}),
    ("GET", "/conversations/{conversation_id}/variables"): _get("/conversations/{flow_conversation}/variables",
                                                               "chatflow"),
    ("PUT", "/conversations/{conversation_id}/variables/{variable_id}"): _send(
        "PUT", "/conversations/{flow_conversation}/variables/{variable}", "chatflow", {"value": "x", "user": "x"}),
    ("GET", "/messages"): _get("/messages", "chat", conversation_id="{conversation}"),
    ("POST", "/messages/{message_id}/feedbacks"): _send("POST", "/messages/{message}/feedbacks", "chat",
                                                       {"rating": "dislike", "user": "x"}),
    ("GET", "/messages/{message_id}/suggested"): _get("/messages/{message}/suggested", "chat"),
    ("GET", "/files/{file_id}/preview"): _get("/files/{file}/preview", "chat"),
    ("GET", "/end-users/{end_user_id}"): _get("/end-users/{end_user}", "chat"),
    ("PUT", "/apps/annotations/{annotation_id}"): _send("PUT", "/apps/annotations/{annotation}", "chat",
                                                       {"question": "mine", "answer": "now"}),
    ("DELETE", "/apps/annotations/{annotation_id}"): _send("DELETE", "/apps/annotations/{annotation}", "chat", {}),
    ("GET", "/apps/annotation-reply/{action}/status/{job_id}"): _get("/apps/annotation-reply/enable/status/{job}",
                                                                     "chat"),
    ("POST", "/text-to-audio"): _send("POST", "/text-to-audio", "chat", {"message_id": "{message}", "user": "x"}),
    ("POST", "/chat-messages"): _send("POST", "/chat-messages", "chat",
                                      {"inputs": {}, "query": "x", "user": "x", "conversation_id": "{conversation}"}),
}

_DS = "/datasets/{dataset}"
_DOC = _DS + "/documents/{document}"
_SEG = _DOC + "/segments/{segment}"
_DS_R = "/datasets/{dataset_id}"
_DOC_R = _DS_R + "/documents/{document_id}"
_SEG_R = _DOC_R + "/segments/{segment_id}"

#: The Knowledge API's routes that name a record of workspace A, called with B's knowledge key.
NAMED.update({
    ("GET", _DS_R): _get(_DS, "knowledge"),
    ("PATCH", _DS_R): _send("PATCH", _DS, "knowledge", {"name": "B's now"}),
    ("DELETE", _DS_R): _send("DELETE", _DS, "knowledge", {}),
    ("POST", _DS_R + "/retrieve"): _send("POST", _DS + "/retrieve", "knowledge", {"query": "secret"}),
    ("POST", _DS_R + "/hit-testing"): _send("POST", _DS + "/hit-testing", "knowledge", {"query": "secret"}),
    # The external knowledge contract (KB-EXT-SPEC) names the dataset in its body as knowledge_id.
    ("POST", "/retrieval"): _send("POST", "/retrieval", "knowledge", {
        "knowledge_id": "{dataset}", "query": "secret", "retrieval_setting": {"top_k": 3, "score_threshold": 0}}),
    ("POST", _DS_R + "/document/create-by-text"): _send("POST", _DS + "/document/create-by-text", "knowledge",
                                                        {"name": "b", "text": "b", "indexing_technique": "economy"}),
    ("POST", _DS_R + "/document/create_by_text"): _send("POST", _DS + "/document/create_by_text", "knowledge",
                                                        {"name": "b", "text": "b", "indexing_technique": "economy"}),
    ("POST", _DS_R + "/document/create-by-file"): _upload(_DS + "/document/create-by-file"),
    ("POST", _DS_R + "/document/create_by_file"): _upload(_DS + "/document/create_by_file"),
    ("GET", _DS_R + "/documents"): _get(_DS + "/documents", "knowledge"),
    ("GET", _DOC_R): _get(_DOC, "knowledge"),
    ("DELETE", _DOC_R): _send("DELETE", _DOC, "knowledge", {}),
    ("GET", _DOC_R + "/download"): _get(_DOC + "/download", "knowledge"),
    ("POST", _DS_R + "/documents/download-zip"): _send("POST", _DS + "/documents/download-zip", "knowledge",
                                                       {"document_ids": ["{document}"]}),
    ("GET", _DS_R + "/documents/{batch}/indexing-status"): _get(_DS + "/documents/{batch}/indexing-status",
                                                               "knowledge"),
    ("POST", _DOC_R + "/update-by-text"): _send("POST", _DOC + "/update-by-text", "knowledge",
                                                {"name": "b", "text": "b"}),
    ("POST", _DOC_R + "/update_by_text"): _send("POST", _DOC + "/update_by_text", "knowledge",
                                                {"name": "b", "text": "b"}),
    ("POST", _DOC_R + "/update-by-file"): _upload(_DOC + "/update-by-file"),
    ("POST", _DOC_R + "/update_by_file"): _upload(_DOC + "/update_by_file"),
    ("PATCH", _DS_R + "/documents/status/{action}"): _send("PATCH", _DS + "/documents/status/disable", "knowledge",
                                                          {"document_ids": ["{document}"]}),
    ("POST", _DOC_R + "/segments"): _send("POST", _DOC + "/segments", "knowledge", {"segments": [{"content": "b"}]}),
    ("GET", _DOC_R + "/segments"): _get(_DOC + "/segments", "knowledge"),
    ("GET", _SEG_R): _get(_SEG, "knowledge"),
    ("POST", _SEG_R): _send("POST", _SEG, "knowledge", {"segment": {"content": "b"}}),
    ("DELETE", _SEG_R): _send("DELETE", _SEG, "knowledge", {}),
    ("POST", _SEG_R + "/child_chunks"): _send("POST", _SEG + "/child_chunks", "knowledge", {"content": "b"}),
    ("GET", _SEG_R + "/child_chunks"): _get(_SEG + "/child_chunks", "knowledge"),
    ("PATCH", _SEG_R + "/child_chunks/{child_chunk_id}"): _send("PATCH", _SEG + "/child_chunks/{child}", "knowledge",
                                                               {"content": "b"}),
    ("DELETE", _SEG_R + "/child_chunks/{child_chunk_id}"): _send("DELETE", _SEG + "/child_chunks/{child}",
                                                                "knowledge", {}),
    ("POST", _DS_R + "/metadata"): _send("POST", _DS + "/metadata", "knowledge", {"type": "string", "name": "b"}),
    ("GET", _DS_R + "/metadata"): _get(_DS + "/metadata", "knowledge"),
    ("PATCH", _DS_R + "/metadata/{metadata_id}"): _send("PATCH", _DS + "/metadata/{field}", "knowledge",
                                                       {"name": "b"}),
    ("DELETE", _DS_R + "/metadata/{metadata_id}"): _send("DELETE", _DS + "/metadata/{field}", "knowledge", {}),
    ("GET", _DS_R + "/metadata/built-in"): _get(_DS + "/metadata/built-in", "knowledge"),
    ("POST", _DS_R + "/metadata/built-in/{action}"): _send("POST", _DS + "/metadata/built-in/enable", "knowledge",
                                                          {}),
    ("POST", _DS_R + "/documents/metadata"): _send("POST", _DS + "/documents/metadata", "knowledge", {
        "operation_data": [{"document_id": "{document}", "metadata_list": [{"id": "{field}", "name": "owner",
                                                                             "value": "B"}]}]}),
    ("PATCH", "/datasets/tags"): _send("PATCH", "/datasets/tags", "knowledge", {"tag_id": "{tag}", "name": "b"}),
    ("DELETE", "/datasets/tags"): _send("DELETE", "/datasets/tags", "knowledge", {"tag_id": "{tag}"}),
    ("POST", "/datasets/tags/binding"): _send("POST", "/datasets/tags/binding", "knowledge",
                                              {"tag_ids": ["{tag}"], "target_id": "{dataset}"}),
    ("POST", "/datasets/tags/unbinding"): _send("POST", "/datasets/tags/unbinding", "knowledge",
                                                {"tag_id": "{tag}", "target_id": "{dataset}"}),
    ("GET", _DS_R + "/tags"): _get(_DS + "/tags", "knowledge"),
})

#: Routes that list or describe what the key's own app has: A's ids must not appear in B's answer.
LISTS: dict[tuple[str, str], Call] = {
    ("GET", "/conversations"): _get("/conversations", "chat"),
    ("GET", "/app/feedbacks"): _get("/app/feedbacks", "chat"),
    ("GET", "/apps/annotations"): _get("/apps/annotations", "chat"),
    ("GET", "/workflows/logs"): _get("/workflows/logs", "workflow"),
    ("GET", "/parameters"): _get("/parameters", "chat"),
    ("GET", "/info"): _get("/info", "chat"),
    ("GET", "/meta"): _get("/meta", "chat"),
    ("GET", "/site"): _get("/site", "chat"),
    ("GET", "/datasets"): _get("/datasets", "knowledge"),
    ("GET", "/datasets/tags"): _get("/datasets/tags", "knowledge"),
    ("GET", "/workspaces/current/models/model-types/{model_type}"): _get(
        "/workspaces/current/models/model-types/text-embedding", "knowledge"),
}

#: Routes that make something new for the key's own app, or stop a task by id (checked apart, in
#: test_a_stop_with_another_workspaces_task_id_stops_nothing), or serve the public API document.
OWN: set[tuple[str, str]] = {
    ("POST", "/completion-messages"), ("POST", "/workflows/run"), ("POST", "/files/upload"),
    ("POST", "/audio-to-text"), ("POST", "/apps/annotations"), ("POST", "/apps/annotation-reply/{action}"),
    ("POST", "/chat-messages/{task_id}/stop"), ("POST", "/completion-messages/{task_id}/stop"),
    ("POST", "/workflows/tasks/{task_id}/stop"), ("GET", "/openapi.json"),
    ("POST", "/datasets"), ("POST", "/datasets/tags"),
}


def _service_routes(api_app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in api_app.routes:
        if isinstance(route, Mount) and route.path == "/v1":
            for inner in route.routes:
                if isinstance(inner, Route):
                    for method in inner.methods or ():
                        if method != "HEAD":
                            found.add((method, inner.path))
    return found


async def test_the_walk_covers_every_service_route(world: World) -> None:
    routes = _service_routes(world.api.app)
    walked = set(NAMED) | set(LISTS) | OWN
    assert routes - walked == set(), "routes the isolation walk does not cover"
    assert walked - routes == set(), "walk entries for routes that do not exist"


async def test_workspace_b_gets_404_or_403_on_every_record_of_workspace_a(world: World) -> None:
    refused = {}
    for (method, path), call in NAMED.items():
        response = await call(world)
        body = response.json() if response.content else {}
        documented_missing_job = path.endswith("{job_id}") and "does not exist" in str(body.get("message"))
        if response.status_code not in (403, 404) and not documented_missing_job:
            refused[f"{method} {path}"] = (response.status_code, response.text[:200])
    assert refused == {}, "routes that let workspace B reach workspace A's records"
    # Nothing of A changed: its conversation keeps its name, its feedback, its annotation.
    chat = world.a("chat")
    listed = await _ok(world.api.client.get("/conversations", headers=chat, params={"user": "x"}))
    assert [c["id"] for c in listed["data"]] == [world.ids["conversation"]]
    assert listed["data"][0]["name"] != "mine now"
    annotations = await _ok(world.api.client.get("/apps/annotations", headers=chat))
    assert [a["question"] for a in annotations["data"]] == ["q?"]
    knowledge = world.a("knowledge")
    dataset = await _ok(world.api.client.get(f"/datasets/{world.ids['dataset']}", headers=knowledge))
    assert dataset["name"] == "A handbook" and dataset["document_count"] == 1
    assert [t["name"] for t in dataset["tags"]] == ["A tag"]
    segment = await _ok(world.api.client.get(
        f"/datasets/{world.ids['dataset']}/documents/{world.ids['document']}/segments/{world.ids['segment']}",
        headers=knowledge))
    assert segment["data"]["content"] == "A's secret text."


async def test_workspace_b_lists_none_of_workspace_a(world: World) -> None:
    a_ids = set(world.ids.values())
    for (method, path), call in LISTS.items():
        response = await call(world)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        text = response.text
        leaked = sorted(i for i in a_ids if i in text)
        assert leaked == [], f"{method} {path} shows workspace A's records {leaked}"
        assert "A chat" not in text and "A workflow" not in text and "A handbook" not in text


async def test_a_stop_with_another_workspaces_task_id_stops_nothing(world: World) -> None:
    c = world.api.client
    running = await open_stream(
        world.api, world.api.app, "/chat-messages", "a-chat", {"inputs": {}, "query": "go", "user": "x"}
    )
    (task_id,) = list(world.api.state.tasks)
    for kind, path in (("chat", "/chat-messages/{}/stop"), ("completion", "/completion-messages/{}/stop"),
                       ("workflow", "/workflows/tasks/{}/stop")):
        stop = await c.post(path.format(task_id), headers=world.b(kind), json={"user": "x"})
        assert stop.status_code == 200
    answer = "".join(e["answer"] for e in await running.rest() if e["event"] == "message")
    assert answer == "alpha beta gamma delta"  # ran to its end


async def test_an_end_user_never_sees_another_end_users_conversations(world: World) -> None:
    c, chat = world.api.client, world.a("chat")
    conversation = world.ids["conversation"]  # end user "x"'s
    assert (await _ok(c.get("/conversations", headers=chat, params={"user": "y"})))["data"] == []
    for response in (
        await c.get("/messages", headers=chat, params={"user": "y", "conversation_id": conversation}),
        await c.post(f"/conversations/{conversation}/name", headers=chat, json={"name": "y's", "user": "y"}),
        await c.request("DELETE", f"/conversations/{conversation}", headers=chat, json={"user": "y"}),
        await c.post("/chat-messages", headers=chat,
                     json={"inputs": {}, "query": "hi", "user": "y", "conversation_id": conversation}),
        await c.post(f"/messages/{world.ids['message']}/feedbacks", headers=chat,
                     json={"rating": "dislike", "user": "y"}),
        await c.get(f"/messages/{world.ids['message']}/suggested", headers=chat, params={"user": "y"}),
    ):
        assert response.status_code == 404, response.text
    flow = world.a("chatflow")
    variables = await c.get(f"/conversations/{world.ids['flow_conversation']}/variables", headers=flow,
                            params={"user": "y"})
    assert variables.status_code == 404
    still = await _ok(c.get("/conversations", headers=chat, params={"user": "x"}))
    assert [item["id"] for item in still["data"]] == [conversation]
