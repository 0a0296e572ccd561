"""Knowledge in apps, end to end through the Service API (NODE-KNOWLEDGE-RETRIEVAL, API-SSE-MSG-END,
APP-RETRIEVAL-SETTINGS): a chatflow whose Knowledge Retrieval node feeds an LLM's context, and a chat
app whose ``dataset_configs`` compile to the same, both answering from a real knowledge base (rows
written with the ORM, searched by the real retriever), the chunks cited in ``message_end`` and in the
blocking body's metadata, and kept with the message (API-MSG-LIST)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from knowledge.retrieval_rows import DocumentRows, add_dataset, add_document
from support.service_api import ServiceApi, service_api

#: Full-text search needs no vectors: the index rows the ORM writes are searchable at once.
FULL_TEXT = {"search_method": "full_text_search", "top_k": 3, "reranking_enable": False}

CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Helpdesk}
workflow:
  features:
    retriever_resource: {enabled: true}
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: knowledge
      data:
        type: knowledge-retrieval
        title: Knowledge
        dataset_ids: [%(datasets)s]
        query_variable_selector: [sys, query]
        retrieval_mode: multiple
        multiple_retrieval_config: {top_k: 2, reranking_enable: false}
    - id: llm
      data:
        type: llm
        title: LLM
        model: {provider: fake, name: echo, mode: chat, completion_params: {}}
        prompt_template:
        - {role: system, text: "Answer from the manual."}
        - {role: user, text: "{{#context#}}"}
        context: {enabled: true, variable_selector: [knowledge, result]}
        vision: {enabled: false}
    - id: answer
      data: {type: answer, title: Answer, answer: "{{#llm.text#}}"}
    edges:
    - {id: e1, source: start, target: knowledge}
    - {id: e2, source: knowledge, target: llm}
    - {id: e3, source: llm, target: answer}
"""

MANUAL = [
    "To reset the router, hold the reset button for ten seconds until the light blinks.",
    "The warranty covers the router for two years from the date of purchase.",
    "Firmware updates install themselves every night at three o'clock.",
]


def chat_app(dataset_id: str) -> str:
    """A chat app (model_config) with one knowledge base, its prompt placing ``{{#context#}}``."""
    model_config = {
        "model": {"provider": "fake", "name": "echo", "mode": "chat", "completion_params": {}},
        "prompt_type": "advanced",
        "chat_prompt_config": {"prompt": [{"role": "user", "text": "{{#context#}}\n{{#query#}}"}]},
        "user_input_form": [],
        "dataset_configs": {
            "retrieval_model": "multiple",
            "top_k": 2,
            "reranking_enable": False,
            "datasets": {"datasets": [{"dataset": {"enabled": True, "id": dataset_id}}]},
        },
        "retriever_resource": {"enabled": True},
    }
    return yaml.safe_dump({"version": "0.3.0", "kind": "app", "app": {"mode": "chat", "name": "Manual"},
                           "model_config": model_config})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[ServiceApi]:
    """The Service API on SQLite (FTS5) and on PostgreSQL (tsvector): full-text search differs."""
    async with service_api(tmp_path, backend=request.param) as running:
        yield running


async def manual(api: ServiceApi) -> tuple[Any, DocumentRows]:
    dataset = await add_dataset(api.db, api.tenant_id, "Router manual", retrieval_model=FULL_TEXT)
    rows = await add_document(api.db, dataset, "router.md", MANUAL, doc_metadata={"product": "router"})
    return dataset, rows


def sse(body: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]


async def test_a_chatflow_answers_from_the_knowledge_base_and_cites_it(api: ServiceApi) -> None:
    """The node's ``result`` reaches the LLM as ``{{#context#}}``; ``message_end`` lists the chunk it
    read with its dataset, document, segment and score, and ``GET /messages`` shows it again."""
    dataset, rows = await manual(api)
    await api.add_app("helpdesk", CHATFLOW % {"datasets": dataset.id})
    response = await api.client.post("/chat-messages", headers=api.auth("helpdesk"), json={
        "query": "how do I reset the router", "inputs": {}, "user": "u1", "response_mode": "streaming",
    })
    assert response.status_code == 200, response.text
    events = sse(response.text)
    answer = "".join(e["answer"] for e in events if e["event"] == "message")
    assert "hold the reset button for ten seconds" in answer
    (end,) = [e for e in events if e["event"] == "message_end"]
    resources = end["metadata"]["retriever_resources"]
    assert resources, end
    first = resources[0]
    assert first["position"] == 1
    assert first["dataset_id"] == dataset.id and first["dataset_name"] == "Router manual"
    assert first["document_id"] == rows.document_id and first["document_name"] == "router.md"
    assert first["segment_id"] == rows.segment_ids[0]
    assert first["content"] == MANUAL[0]
    assert isinstance(first["score"], float) and 0 < first["score"] <= 1
    assert first["retriever_from"] == "workflow"
    assert [r["position"] for r in resources] == list(range(1, len(resources) + 1))
    assert len(resources) <= 2

    node = next(e for e in events if e["event"] == "node_finished" and e["data"]["node_id"] == "knowledge")
    (item, *_) = node["data"]["outputs"]["result"]
    assert item["title"] == "router.md" and item["content"] == MANUAL[0]
    assert item["metadata"]["_source"] == "knowledge" and item["metadata"]["segment_id"] == rows.segment_ids[0]
    assert node["data"]["inputs"] == {"query": "how do I reset the router"}

    listed = await api.client.get("/messages", headers=api.auth("helpdesk"),
                                  params={"conversation_id": end["conversation_id"], "user": "u1"})
    (message,) = listed.json()["data"]
    assert [r["segment_id"] for r in message["retriever_resources"]] == [r["segment_id"] for r in resources]


async def test_a_chatflow_without_citations_switched_on_sends_none(api: ServiceApi) -> None:
    """Dify lists retriever resources only when the app shows citations (``retriever_resource``)."""
    dataset, _ = await manual(api)
    dsl = (CHATFLOW % {"datasets": dataset.id}).replace("retriever_resource: {enabled: true}",
                                                        "retriever_resource: {enabled: false}")
    await api.add_app("quiet", dsl)
    response = await api.client.post("/chat-messages", headers=api.auth("quiet"), json={
        "query": "warranty years", "inputs": {}, "user": "u1", "response_mode": "blocking",
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert "two years" in body["answer"]
    assert body["metadata"]["retriever_resources"] == []


async def test_an_easy_mode_chat_app_retrieves_through_its_dataset_configs(api: ServiceApi) -> None:
    """APP-CHATBOT with knowledge: ``dataset_configs`` become a Knowledge Retrieval node whose result is
    the prompt's ``{{#context#}}``; the blocking body's metadata cites the chunk."""
    dataset, rows = await manual(api)
    await api.add_app("manual", chat_app(dataset.id))
    response = await api.client.post("/chat-messages", headers=api.auth("manual"), json={
        "query": "firmware updates at night", "inputs": {}, "user": "u2", "response_mode": "blocking",
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert "three o'clock" in body["answer"]
    resources = body["metadata"]["retriever_resources"]
    assert resources and resources[0]["segment_id"] == rows.segment_ids[2]
    assert resources[0]["dataset_id"] == dataset.id and resources[0]["content"] == MANUAL[2]


async def test_a_knowledge_base_of_another_workspace_is_not_searched(api: ServiceApi) -> None:
    """Ids the workspace does not have are left out (as Dify leaves out deleted knowledge bases): the
    node's result is empty and nothing is cited."""
    from knowledge.retrieval_rows import add_tenant

    other = await add_tenant(api.db, "Elsewhere")
    dataset = await add_dataset(api.db, other, "Secret manual", retrieval_model=FULL_TEXT)
    await add_document(api.db, dataset, "secret.md", ["The vault code is 1234 and resets the router."])
    await api.add_app("nosy", CHATFLOW % {"datasets": dataset.id})
    response = await api.client.post("/chat-messages", headers=api.auth("nosy"), json={
        "query": "reset the router vault code", "inputs": {}, "user": "u3", "response_mode": "blocking",
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert "1234" not in body["answer"]
    assert body["metadata"]["retriever_resources"] == []
