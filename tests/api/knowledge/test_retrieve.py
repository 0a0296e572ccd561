"""Retrieval from a dataset over HTTP, through the real retriever over what the real pipeline indexed
(API-KB-RETRIEVE, the hit-testing alias, KB-TEST-RETRIEVAL, KB-RET-*)."""

from __future__ import annotations

from sqlalchemy import select
from treadle.store import DatasetQuery

from .conftest import KnowledgeApi

TEXT = "Holidays are booked in the staff portal.\n\nExpenses are paid at the end of each month."


async def _dataset_with(kb: KnowledgeApi, text: str) -> str:
    dataset = await kb.dataset()
    made = await kb.text_document(dataset["id"], "Handbook", text, process_rule={
        "mode": "custom", "rules": {"segmentation": {"separator": "\n\n", "max_tokens": 100}}})
    (status,) = await kb.indexed(dataset["id"], made["batch"])
    assert status["indexing_status"] == "completed", status
    dataset_id: str = dataset["id"]
    return dataset_id


async def test_retrieve_finds_the_chunk_that_answers(kb: KnowledgeApi) -> None:
    dataset_id = await _dataset_with(kb, TEXT)
    found = await kb.post(f"/datasets/{dataset_id}/retrieve", {
        "query": "staff portal holidays",
        "retrieval_model": {"search_method": "full_text_search", "reranking_enable": False, "top_k": 1,
                            "score_threshold_enabled": False},
    })
    assert found["query"] == {"content": "staff portal holidays"}
    (record,) = found["records"]
    assert record["segment"]["content"] == "Holidays are booked in the staff portal."
    assert record["segment"]["document"]["name"] == "Handbook"
    assert isinstance(record["score"], float)
    await kb.api.state.knowledge.retriever.flush()  # the log is written in the background
    async with kb.api.db.session() as session:
        logged = list(await session.scalars(select(DatasetQuery.source).where(DatasetQuery.dataset_id == dataset_id)))
    assert logged == ["api"]


async def test_hit_testing_is_the_same_retrieval_logged_as_a_test(kb: KnowledgeApi) -> None:
    dataset_id = await _dataset_with(kb, TEXT)
    found = await kb.post(f"/datasets/{dataset_id}/hit-testing", {
        "query": "expenses month", "retrieval_model": {"search_method": "full_text_search", "top_k": 2}})
    assert found["records"] and "Expenses" in found["records"][0]["segment"]["content"]
    await kb.api.state.knowledge.retriever.flush()  # the log is written in the background
    async with kb.api.db.session() as session:
        logged = list(await session.scalars(select(DatasetQuery.source).where(DatasetQuery.dataset_id == dataset_id)))
    assert logged == ["hit_testing"]


async def test_retrieve_refuses_long_queries_and_uninitialized_datasets(kb: KnowledgeApi) -> None:
    empty = await kb.post("/datasets", {"name": "Empty"})
    response = await kb.client.post(f"/datasets/{empty['id']}/retrieve", headers=kb.headers, json={"query": "x"})
    assert response.status_code == 400 and response.json()["code"] == "dataset_not_initialized"
    long = await kb.client.post(f"/datasets/{empty['id']}/retrieve", headers=kb.headers, json={"query": "x" * 251})
    assert long.status_code == 400 and long.json()["params"] == "query"
    bad = await kb.client.post(f"/datasets/{empty['id']}/retrieve", headers=kb.headers,
                               json={"query": "x", "retrieval_model": {"search_method": "psychic"}})
    assert bad.status_code == 400
