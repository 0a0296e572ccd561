"""The Knowledge Retrieval node run in workflows through a real supervisor, the kernel's
``retrieve_knowledge`` service and the real retriever over a real database
(NODE-KNOWLEDGE-RETRIEVAL, KB-RET-MULTIPATH, KB-META-FILTER): multiple retrieval pooling knowledge
bases, single retrieval routed by a model, manual and automatic metadata filters, and failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from knowledge.retrieval_rows import DocumentRows, add_dataset, add_document, add_tenant
from support.databases import sqlite_database
from treadle.apps import RunRequest
from treadle.config import Settings
from treadle.graph.events import NodeFailed
from treadle.knowledge.app_retrieval import AppRetrieval
from treadle.knowledge.embedding import Embedder
from treadle.knowledge.retrieval import Retriever
from treadle.knowledge.vectors import VectorStores
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import Database, Dataset

from nodes.llm.support import end, run, start, text_input

FULL_TEXT = {"search_method": "full_text_search", "top_k": 3}


@dataclass
class World:
    supervisor: PluginSupervisor
    db: Database
    tenant_id: str
    routers: Dataset
    billing: Dataset
    router_doc: DocumentRows
    modem_doc: DocumentRows
    invoice_doc: DocumentRows


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = await sqlite_database(tmp_path)
    settings = Settings.load(home=tmp_path / "home")
    plugins = (PluginSpec("core-nodes"), PluginSpec("llm-nodes"), PluginSpec("knowledge-nodes"), PluginSpec("fake"))
    try:
        async with PluginSupervisor(settings, groups=[GroupPlan("inline", True, plugins)]) as supervisor, \
                Retriever(db, VectorStores(supervisor, settings), Embedder(db, supervisor), supervisor) as retriever:
            supervisor.services.knowledge = AppRetrieval(db, retriever, supervisor)
            tenant_id = await add_tenant(db)
            routers = await add_dataset(db, tenant_id, "Routers", description="Router setup and troubleshooting",
                                        retrieval_model=FULL_TEXT)
            billing = await add_dataset(db, tenant_id, "Billing", description="Invoices, payments and refunds",
                                        retrieval_model=FULL_TEXT)
            router_doc = await add_document(db, routers, "router.md", [
                "Reset the router by holding its reset button for ten seconds.",
                "The router light blinks green while it starts.",
            ], doc_metadata={"product": "router", "year": 2024})
            modem_doc = await add_document(db, routers, "modem.md", [
                "Reset the modem by unplugging it for a minute.",
            ], doc_metadata={"product": "modem", "year": 2021})
            invoice_doc = await add_document(db, billing, "invoices.md", [
                "Invoices are sent on the first day of the month; a reset of the billing date is free.",
            ], doc_metadata={"product": "billing", "year": 2024})
            yield World(supervisor, db, tenant_id, routers, billing, router_doc, modem_doc, invoice_doc)
    finally:
        await db.dispose()


def knowledge(dataset_ids: list[str], **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "knowledge-retrieval",
        "title": "Knowledge",
        "dataset_ids": dataset_ids,
        "query_variable_selector": ["start", "query"],
        "retrieval_mode": "multiple",
        "multiple_retrieval_config": {"top_k": 4, "reranking_enable": False},
        **data,
    }
    return {"id": "knowledge", "data": body}


def script(*replies: Any) -> dict[str, Any]:
    return {"provider": "fake", "name": "script", "mode": "chat", "completion_params": {"script": list(replies)}}


async def retrieve(world: World, node: dict[str, Any], **inputs: Any) -> list[dict[str, Any]]:
    nodes = [start(text_input("query", required=False), text_input("product", required=False)), node,
             end(result=["knowledge", "result"])]
    done = await run(world.supervisor, nodes, request=RunRequest(inputs=inputs), tenant=world.tenant_id)
    assert done.result.status == "succeeded", (done.result.error_type, done.result.error)
    result: list[dict[str, Any]] = done.outputs["result"]
    return result


async def test_multiple_retrieval_pools_every_knowledge_base_best_first(world: World) -> None:
    """KB-RET-MULTIPATH: both knowledge bases are searched; the chunks come best first, numbered from
    1, each in Dify's result shape (``content``, ``title``, ``metadata`` with ``_source: knowledge``)."""
    result = await retrieve(world, knowledge([world.routers.id, world.billing.id]), query="reset")
    segment_ids = [item["metadata"]["segment_id"] for item in result]
    assert set(segment_ids) == {world.router_doc.segment_ids[0], world.modem_doc.segment_ids[0],
                                world.invoice_doc.segment_ids[0]}
    assert [item["metadata"]["position"] for item in result] == [1, 2, 3]
    scores = [item["metadata"]["score"] for item in result]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(1.0)
    by_segment = {item["metadata"]["segment_id"]: item for item in result}
    invoice = by_segment[world.invoice_doc.segment_ids[0]]
    assert invoice["title"] == "invoices.md"
    assert invoice["content"].startswith("Invoices are sent")
    metadata = invoice["metadata"]
    assert metadata["_source"] == "knowledge"
    assert metadata["dataset_id"] == world.billing.id and metadata["dataset_name"] == "Billing"
    assert metadata["document_id"] == world.invoice_doc.document_id and metadata["document_name"] == "invoices.md"
    assert metadata["doc_metadata"] == {"product": "billing", "year": 2024}
    assert metadata["retriever_from"] == "workflow"
    assert metadata["segment_position"] == 1 and metadata["segment_word_count"] > 0


async def test_top_k_cuts_the_pooled_chunks(world: World) -> None:
    result = await retrieve(world, knowledge([world.routers.id, world.billing.id],
                                             multiple_retrieval_config={"top_k": 1, "reranking_enable": False}),
                            query="reset the router")
    assert [item["metadata"]["segment_id"] for item in result] == [world.router_doc.segment_ids[0]]


async def test_single_retrieval_searches_only_the_knowledge_base_the_model_picks(world: World) -> None:
    """Single mode: the model is offered one tool per knowledge base (named by its id) and the one it
    calls is searched, alone."""
    picks_billing = script({"tool_calls": [{"name": world.billing.id, "arguments": {}}]})
    node = knowledge([world.routers.id, world.billing.id], retrieval_mode="single",
                     single_retrieval_config={"model": picks_billing})
    result = await retrieve(world, node, query="reset")
    assert [item["metadata"]["dataset_id"] for item in result] == [world.billing.id]


async def test_single_retrieval_finds_nothing_when_the_model_picks_no_knowledge_base(world: World) -> None:
    node = knowledge([world.routers.id, world.billing.id], retrieval_mode="single",
                     single_retrieval_config={"model": script("I cannot tell.")})
    assert await retrieve(world, node, query="reset") == []


async def test_manual_metadata_conditions_read_variables_and_filter_documents(world: World) -> None:
    """KB-META-FILTER manual: ``{{#start.product#}}`` is rendered before the search; only documents
    whose metadata meet the conditions give chunks."""
    conditions = {"logical_operator": "and", "conditions": [
        {"name": "product", "comparison_operator": "is", "value": "{{#start.product#}}"},
        {"name": "year", "comparison_operator": "≥", "value": 2022},
    ]}
    node = knowledge([world.routers.id, world.billing.id], metadata_filtering_mode="manual",
                     metadata_filtering_conditions=conditions)
    result = await retrieve(world, node, query="reset", product="router")
    assert {item["metadata"]["document_id"] for item in result} == {world.router_doc.document_id}
    assert await retrieve(world, node, query="reset", product="modem") == []  # the modem's year is 2021


async def test_automatic_metadata_filtering_uses_the_conditions_the_model_writes(world: World) -> None:
    """KB-META-FILTER automatic: the model answers ``metadata_map`` over the shared fields."""
    from treadle.store import DatasetMetadataField

    async with world.db.session() as session:
        for dataset in (world.routers, world.billing):
            session.add(DatasetMetadataField(dataset_id=dataset.id, tenant_id=world.tenant_id, name="product",
                                             type="string"))
    answer = '{"metadata_map": [{"metadata_field_name": "product", "metadata_field_value": "modem", ' \
             '"comparison_operator": "is"}]}'
    node = knowledge([world.routers.id, world.billing.id], metadata_filtering_mode="automatic",
                     metadata_model_config=script(answer))
    result = await retrieve(world, node, query="how do I reset my modem")
    assert {item["metadata"]["document_id"] for item in result} == {world.modem_doc.document_id}


async def test_a_node_without_knowledge_bases_outputs_nothing(world: World) -> None:
    assert await retrieve(world, knowledge([]), query="reset") == []


async def test_knowledge_bases_of_another_workspace_are_left_out(world: World) -> None:
    other = await add_tenant(world.db, "Other")
    theirs = await add_dataset(world.db, other, "Theirs", retrieval_model=FULL_TEXT)
    await add_document(world.db, theirs, "secret.md", ["Reset the secret vault."])
    assert await retrieve(world, knowledge([theirs.id]), query="reset") == []


async def test_an_empty_query_fails_the_node(world: World) -> None:
    nodes = [start(text_input("query", required=False)), knowledge([world.routers.id]),
             end(result=["knowledge", "result"])]
    done = await run(world.supervisor, nodes, request=RunRequest(inputs={"query": "  "}), tenant=world.tenant_id)
    assert done.result.status == "failed"
    (failed,) = [e for e in done.events if isinstance(e, NodeFailed)]
    assert failed.node_id == "knowledge" and failed.error == "Query is required."
    assert failed.error_type == "KnowledgeRetrievalNodeError"


async def test_a_rerank_model_the_workspace_cannot_run_fails_the_node_saying_why(world: World) -> None:
    node = knowledge([world.routers.id], multiple_retrieval_config={
        "top_k": 2, "reranking_enable": True, "reranking_mode": "reranking_model",
        "reranking_model": {"provider": "nowhere", "model": "rerank-x"},
    })
    nodes = [start(text_input("query", required=False)), node, end(result=["knowledge", "result"])]
    done = await run(world.supervisor, nodes, request=RunRequest(inputs={"query": "reset"}), tenant=world.tenant_id)
    assert done.result.status == "failed"
    (failed,) = [e for e in done.events if isinstance(e, NodeFailed)]
    assert failed.node_id == "knowledge" and "nowhere" in failed.error


# -- the Kernel method itself ----------------------------------------------------------------------------


async def test_retrieve_knowledge_refuses_a_payload_naming_the_bad_field(world: World) -> None:
    """The kernel checks the payload (``KnowledgeQuery``) before it searches."""
    from treadle_sdk.errors import PluginInvalidArgument

    with world.supervisor.kernel_client(tenant_id=world.tenant_id) as kernel:
        with pytest.raises(PluginInvalidArgument) as caught:
            await kernel.acall("retrieve_knowledge", {"dataset_ids": [], "query": "x", "retrieval_mode": "all"})
    assert "dataset_ids" in caught.value.message and "retrieval_mode" in caught.value.message


async def test_retrieve_knowledge_answers_citations_for_the_callers_workspace(world: World) -> None:
    from treadle_sdk.knowledge import RESOURCE_FIELDS, KnowledgeQuery

    query = KnowledgeQuery(dataset_ids=[world.routers.id], query="blinks green", retriever_from="app")
    with world.supervisor.kernel_client(tenant_id=world.tenant_id) as kernel:
        (chunk,) = await kernel.aretrieve_knowledge(query)
    assert tuple(chunk) == RESOURCE_FIELDS
    assert chunk["segment_id"] == world.router_doc.segment_ids[1] and chunk["retriever_from"] == "app"
    with world.supervisor.kernel_client(tenant_id="another-workspace") as kernel:
        assert await kernel.aretrieve_knowledge(query) == []


async def test_a_kernel_without_knowledge_bases_says_so(tmp_path: Path) -> None:
    from treadle_sdk.errors import PluginUnimplemented
    from treadle_sdk.knowledge import KnowledgeQuery

    async with PluginSupervisor(Settings.load(home=tmp_path), groups=[]) as supervisor:
        with supervisor.kernel_client(tenant_id="t") as kernel:
            with pytest.raises(PluginUnimplemented, match="no knowledge bases"):
                await kernel.aretrieve_knowledge(KnowledgeQuery(dataset_ids=["d"], query="q"))
