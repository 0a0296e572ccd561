"""Retrieval (KB-RET-*, KB-RET-MULTIPATH, KB-INDEX-ECONOMICAL, KB-META-FILTER, KB-TEST-RETRIEVAL) over
rows written through the ORM, vectors in the real faiss store and embeddings from the fake
provider's ``fake-embedding`` model (the same text always has the same vector; there is no meaning,
so a query that is a chunk's exact text is that chunk's nearest neighbour), on SQLite and PostgreSQL.
A last test checks hybrid ranking with meaning, through the local MiniLM model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.databases import migrated_database
from treadle.config import Settings
from treadle.knowledge.embedding import Embedder
from treadle.knowledge.errors import KnowledgeInputError, ModelNotConfigured
from treadle.knowledge.retrieval import RetrievedChunk, Retriever, candidate_count
from treadle.knowledge.retrieval_model import RetrievalSettings
from treadle.knowledge.vectors import VectorStores
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import Database, Dataset, DatasetQuery, Document, DocumentSegment
from treadle_fake.embedding import embed
from treadle_sdk.knowledge import RESOURCE_FIELDS

from .retrieval_rows import DocumentRows, add_dataset, add_document, add_tenant, index_vectors

ANIMALS = [
    "Cats sleep for most of the day and hunt at dusk.",
    "Dogs were domesticated from wolves thousands of years ago.",
    "Parrots can imitate human speech and live for decades.",
    "Goldfish remember things for months, not seconds.",
]


@dataclass
class World:
    db: Database
    supervisor: PluginSupervisor
    vectors: VectorStores
    embedder: Embedder
    retriever: Retriever
    tenant_id: str

    async def indexed(self, dataset: Dataset, *documents: DocumentRows) -> None:
        await index_vectors(self.db, self.vectors, self.embedder, dataset, *documents)

    async def retrieve(self, datasets: list[Dataset], query: str, settings: RetrievalSettings | None = None,
                       **options: Any) -> list[RetrievedChunk]:  # fmt: skip
        return await self.retriever.retrieve(self.tenant_id, [d.id for d in datasets], query, settings, **options)


def method(name: str, **raw: Any) -> RetrievalSettings:
    return RetrievalSettings.parse({"search_method": name, **raw})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    plugins = (PluginSpec("fake"), PluginSpec("faiss-store"))
    settings = Settings.load(home=tmp_path)
    async with migrated_database(request.param, tmp_path) as db, \
            PluginSupervisor(settings, groups=[GroupPlan("inline", True, plugins)]) as supervisor:
        vectors = VectorStores(supervisor, settings)
        embedder = Embedder(db, supervisor)
        world = World(db, supervisor, vectors, embedder, Retriever(db, vectors, embedder, supervisor),
                      await add_tenant(db))  # fmt: skip
        yield world
        await world.retriever.flush()  # its log writes finish before the database goes


async def _animals(world: World, **columns: Any) -> tuple[Dataset, DocumentRows]:
    dataset = await add_dataset(world.db, world.tenant_id, "Animals", **columns)
    rows = await add_document(world.db, dataset, "animals.md", ANIMALS)
    await world.indexed(dataset, rows)
    return dataset, rows


async def test_semantic_search_returns_the_nearest_chunk_with_its_record(world: World) -> None:
    """KB-RET-VECTOR: the chunk whose text is the query comes first, scored by cosine (1.0 here)."""
    dataset, rows = await _animals(world)
    found = await world.retrieve([dataset], ANIMALS[2], method("semantic_search", top_k=2), source="hit_testing",
                                 created_by="acct-1")  # fmt: skip
    assert len(found) == 2
    best = found[0]
    assert best.segment is not None and best.segment.id == rows.segment_ids[2]
    assert best.score == pytest.approx(1.0, abs=1e-5) and found[1].score < best.score
    record = best.as_api_record()
    assert set(record) == {"segment", "child_chunks", "score", "tsne_position", "files", "summary"}
    assert record["segment"]["content"] == ANIMALS[2] and record["segment"]["position"] == 3
    assert record["segment"]["document"] == {"id": rows.document_id, "data_source_type": "upload_file",
                                             "name": "animals.md", "doc_type": None, "doc_metadata": {}}
    assert record["segment"]["hit_count"] == 1  # this retrieval counted
    await world.retriever.flush()  # the log is written in the background
    async with world.db.session() as s:
        logged = list(await s.scalars(select(DatasetQuery)))
        hits = {seg.id: seg.hit_count for seg in await s.scalars(select(DocumentSegment))}
    assert [(q.dataset_id, q.content, q.source, q.created_by) for q in logged] == [
        (dataset.id, ANIMALS[2], "hit_testing", "acct-1")]
    assert hits[rows.segment_ids[2]] == 1 and sum(hits.values()) == 2


async def test_full_text_search(world: World) -> None:
    """KB-RET-FULLTEXT: stemmed words, normalised scores (best 1.0), stop words ignored."""
    dataset, rows = await _animals(world)
    found = await world.retrieve([dataset], "Which animals were domesticated from a wolf?",
                                 method("full_text_search"))  # fmt: skip
    assert [c.segment.id for c in found if c.segment] == [rows.segment_ids[1]]
    assert found[0].score == 1.0


def _cosine(a: str, b: str) -> float:
    return max(0.0, sum(x * y for x, y in zip(embed(a), embed(b), strict=True)))


async def test_hybrid_weights_decide_between_the_two_sides(world: World) -> None:
    """KB-RET-HYBRID: "goldfish remember months" has words of chunk 3 only; its (meaningless, fake)
    vector is nearest another chunk. All weight on keywords puts chunk 3 first, all on vectors the
    nearest chunk; both sides' scores are normalised, so the best is 1.0 either way. The dataset is
    smaller than the candidate list, so vector scores are ratios to the best cosine."""
    dataset, rows = await _animals(world)
    query = "goldfish remember months"
    cosines = [_cosine(query, text) for text in ANIMALS]
    nearest = max(range(len(ANIMALS)), key=lambda i: cosines[i])
    assert nearest != 3  # the premise: the two sides disagree

    def weighted(vector: float, keyword: float) -> RetrievalSettings:
        return method("hybrid_search", reranking_mode="weighted_score", top_k=4, weights={
            "vector_setting": {"vector_weight": vector}, "keyword_setting": {"keyword_weight": keyword}})

    keyword_first = await world.retrieve([dataset], query, weighted(0.0, 1.0))
    assert keyword_first[0].segment is not None and keyword_first[0].segment.id == rows.segment_ids[3]
    assert keyword_first[0].score == pytest.approx(1.0)
    vector_first = await world.retrieve([dataset], query, weighted(1.0, 0.0))
    assert vector_first[0].segment is not None and vector_first[0].segment.id == rows.segment_ids[nearest]
    assert vector_first[0].score == pytest.approx(1.0)
    # Half and half: chunk 3 has the full keyword half plus its vector half.
    mixed = await world.retrieve([dataset], query, weighted(0.5, 0.5))
    scores = {c.segment.id: c.score for c in mixed if c.segment}
    best = cosines[nearest]
    assert scores[rows.segment_ids[3]] == pytest.approx(0.5 + 0.5 * cosines[3] / best, abs=1e-4)
    assert scores[rows.segment_ids[nearest]] == pytest.approx(0.5, abs=1e-4)


async def test_hybrid_vector_scores_are_min_max_normalised_over_a_full_candidate_list(world: World) -> None:
    """With more pieces than candidates, the last candidate's cosine is the vector floor (0)."""
    n = candidate_count(5)
    texts = [f"Note number {i} about topic {i * 7 % 11}." for i in range(3 * n)]
    dataset = await add_dataset(world.db, world.tenant_id, "Notes")
    rows = await add_document(world.db, dataset, "notes.md", texts)
    await world.indexed(dataset, rows)
    query = "an unrelated question"
    cosines = sorted((_cosine(query, t) for t in texts), reverse=True)
    assert cosines[n - 1] > 0  # the premise: the floor is a real cosine, not the clip at 0
    settings = method("hybrid_search", reranking_mode="weighted_score", top_k=5,
                      weights={"vector_setting": {"vector_weight": 1.0}, "keyword_setting": {"keyword_weight": 0.0}})
    found = await world.retrieve([dataset], query, settings)
    expected = [(c - cosines[n - 1]) / (cosines[0] - cosines[n - 1]) for c in cosines[:5]]
    assert [c.score for c in found] == pytest.approx(expected, abs=1e-4)


async def test_unavailable_documents_and_segments_are_never_returned(world: World) -> None:
    dataset = await add_dataset(world.db, world.tenant_id, "Mixed")
    text = "Solar panels turn sunlight into electricity."
    docs = {
        "live": await add_document(world.db, dataset, "live.md", [text + " live"]),
        "disabled": await add_document(world.db, dataset, "disabled.md", [text + " disabled"], enabled=False),
        "archived": await add_document(world.db, dataset, "archived.md", [text + " archived"], archived=True),
        "indexing": await add_document(world.db, dataset, "indexing.md", [text + " indexing"],
                                       indexing_status="indexing"),
        "segment_off": await add_document(world.db, dataset, "segment_off.md", [text + " segment"]),
    }
    await world.indexed(dataset, *docs.values())
    async with world.db.session() as s:
        segment = await s.get(DocumentSegment, docs["segment_off"].segment_ids[0])
        assert segment is not None
        segment.enabled = False
    for name in ("semantic_search", "full_text_search", "hybrid_search"):
        found = await world.retrieve([dataset], text, method(name, top_k=10))
        assert [c.document.name for c in found if c.document] == ["live.md"], name


async def test_metadata_filter_narrows_both_searches(world: World) -> None:
    """KB-META-FILTER: only documents whose metadata meets the condition are searched."""
    dataset = await add_dataset(world.db, world.tenant_id, "Docs")
    text = "Rotate your API keys every ninety days."
    old = await add_document(world.db, dataset, "old.md", [text + " (2023)"], doc_metadata={"year": 2023})
    new = await add_document(world.db, dataset, "new.md", [text + " (2025)"], doc_metadata={"year": 2025})
    await world.indexed(dataset, old, new)
    condition = {"logical_operator": "and", "conditions": [{"name": "year", "comparison_operator": ">", "value": 2024}]}
    for name in ("semantic_search", "full_text_search", "hybrid_search"):
        found = await world.retrieve([dataset], text, method(name, top_k=5), metadata_condition=condition)
        assert [c.document.id for c in found if c.document] == [new.document_id], name
    nothing = {"conditions": [{"name": "year", "comparison_operator": ">", "value": 3000}]}
    assert await world.retrieve([dataset], text, method("hybrid_search"), metadata_condition=nothing) == []
    with pytest.raises(KnowledgeInputError):
        await world.retrieve([dataset], text, metadata_condition={"conditions": [{"name": "year"}]})


async def test_parent_child_returns_parents_with_their_matched_children(world: World) -> None:
    """KB-CHUNK-PARENT-CHILD: children are searched, their parent comes back with the best child's score."""
    dataset = await add_dataset(world.db, world.tenant_id, "Handbook", doc_form="hierarchical_model")
    parents = [
        ("Holidays. Staff get 25 days. Unused days carry over.", ["Staff get 25 days.", "Unused days carry over."]),
        ("Expenses. Keep receipts. Claim within a month.", ["Keep receipts.", "Claim within a month."]),
    ]
    rows = await add_document(world.db, dataset, "handbook.md", parents)
    await world.indexed(dataset, rows)
    found = await world.retrieve([dataset], "Unused days carry over.", method("semantic_search", top_k=1))
    assert len(found) == 1
    chunk = found[0]
    assert chunk.segment is not None and chunk.segment.content == parents[0][0]
    assert chunk.child_chunks[0].content == "Unused days carry over." and chunk.child_chunks[0].position == 2
    assert chunk.score == chunk.child_chunks[0].score == pytest.approx(1.0, abs=1e-5)
    text_found = await world.retrieve([dataset], "receipts claim", method("full_text_search", top_k=3))
    assert [c.segment.id for c in text_found if c.segment] == [rows.segment_ids[1]]
    assert sorted(c.content for c in text_found[0].child_chunks) == ["Claim within a month.", "Keep receipts."]
    assert text_found[0].as_api_record()["child_chunks"][0].keys() == {"id", "content", "position", "score"}


async def test_economy_datasets_search_keywords(world: World) -> None:
    """KB-INDEX-ECONOMICAL: the chunks' keywords are searched, whatever method is asked for."""
    dataset = await add_dataset(world.db, world.tenant_id, "Cheap", indexing_technique="economy")
    rows = await add_document(world.db, dataset, "cheap.md", ["About invoices.", "About refunds."],
                              keywords=[["invoice", "billing"], ["refund", "money"]])  # fmt: skip
    found = await world.retrieve([dataset], "billing question", method("semantic_search"))
    assert [c.segment.id for c in found if c.segment] == [rows.segment_ids[0]]
    assert await world.retrieve([dataset], "About", method("full_text_search")) == []  # text is not keywords


async def test_rerank_model_reorders_the_pooled_chunks(world: World) -> None:
    """KB-RET-RERANK / KB-RET-MULTIPATH: both datasets' chunks are pooled and the rerank model (word
    overlap) orders them, its scores kept; TopK and the threshold apply after it."""
    first, _ = await _animals(world)
    second = await add_dataset(world.db, world.tenant_id, "More animals")
    more = await add_document(world.db, second, "more.md", ["Cats and dogs can live together peacefully."])
    await world.indexed(second, more)
    settings = method("full_text_search", top_k=2, reranking_enable=True, reranking_model={
        "reranking_provider_name": "fake", "reranking_model_name": "fake-rerank"})
    found = await world.retrieve([first, second], "cats together peacefully", settings)
    assert [c.content for c in found] == ["Cats and dogs can live together peacefully.", ANIMALS[0]]
    assert [c.score for c in found] == [pytest.approx(1.0), pytest.approx(1 / 3)]
    assert {c.dataset_name for c in found} == {"Animals", "More animals"}
    limited = await world.retrieve([first, second], "cats together peacefully",
                                   RetrievalSettings.parse({**settings.as_dict(), "score_threshold_enabled": True,
                                                            "score_threshold": 0.5}))  # fmt: skip
    assert [c.score for c in limited] == [pytest.approx(1.0)]
    missing = RetrievalSettings.parse({**settings.as_dict(), "reranking_model": {
        "reranking_provider_name": "nobody", "reranking_model_name": "nothing"}})
    with pytest.raises(ModelNotConfigured):
        await world.retrieve([first], "cats", missing)


async def test_several_datasets_are_pooled_top_k_and_threshold(world: World) -> None:
    first, rows = await _animals(world)
    second = await add_dataset(world.db, world.tenant_id, "Plants")
    plants = await add_document(world.db, second, "plants.md", ["Cacti store water in their stems."])
    await world.indexed(second, plants)
    found = await world.retrieve([first, second], "Cacti store water in their stems.", method("semantic_search"))
    assert len(found) == 3 and found[0].dataset_name == "Plants" and found[0].score == pytest.approx(1.0, abs=1e-5)
    strict = method("semantic_search", score_threshold_enabled=True, score_threshold=0.99)
    assert [c.dataset_id for c in await world.retrieve([first, second], "Cacti store water in their stems.",
                                                       strict)] == [second.id]  # fmt: skip
    await world.retriever.flush()
    async with world.db.session() as s:
        logged = sorted(q.dataset_id for q in await s.scalars(select(DatasetQuery)))
    assert logged == sorted([first.id, second.id, first.id, second.id])
    assert rows.document_id  # the animals were searched too


async def test_datasets_without_documents_or_of_other_workspaces_give_nothing(world: World) -> None:
    empty = await add_dataset(world.db, world.tenant_id, "Empty", indexing_technique=None)
    assert await world.retrieve([empty], "anything") == []
    other_tenant = await add_tenant(world.db, "Other")
    theirs = await add_dataset(world.db, other_tenant, "Theirs")
    await world.indexed(theirs, await add_document(world.db, theirs, "t.md", ["Secret plans."]))
    assert await world.retrieve([theirs], "Secret plans.", method("hybrid_search")) == []


async def test_a_dataset_searches_with_its_own_settings_when_none_are_given(world: World) -> None:
    dataset, rows = await _animals(world, retrieval_model=method("full_text_search", top_k=1).as_dict())
    found = await world.retrieve([dataset], "parrots speech")
    assert [c.segment.id for c in found if c.segment] == [rows.segment_ids[2]]


async def test_citations_and_qa_content(world: World) -> None:
    dataset = await add_dataset(world.db, world.tenant_id, "FAQ")
    rows = await add_document(world.db, dataset, "faq.md", ["How do I reset my password?"])
    async with world.db.session() as s:
        segment = await s.get(DocumentSegment, rows.segment_ids[0])
        assert segment is not None
        segment.answer = "Use the link on the sign-in page."
    found = await world.retrieve([dataset], "reset password", method("full_text_search"))
    chunk = found[0]
    assert chunk.content == "question:How do I reset my password? answer:Use the link on the sign-in page."
    resource = chunk.as_retriever_resource(1, "app")
    assert tuple(resource) == RESOURCE_FIELDS
    assert resource["position"] == 1 and resource["retriever_from"] == "app"
    assert (resource["dataset_name"], resource["document_name"], resource["segment_position"]) == ("FAQ", "faq.md", 1)
    assert resource["hit_count"] == 1 and resource["content"] == chunk.content


# -- meaning: the local MiniLM model ---------------------------------------------------------------------

GUIDE = {
    "knowledge.md": [
        "# Create a knowledge base\n\nUpload files (PDF, Markdown, TXT) and choose how they are chunked.",
        "## Indexing methods\n\nHigh Quality indexing embeds each chunk; Economical stores 10 keywords per chunk.",
    ],
    "retrieval.md": [
        "# Retrieval settings\n\nHybrid search runs **vector** and **full-text** search together and "
        "re-orders the results with weights or a rerank model.",
        "## Score threshold\n\nChunks scoring below the threshold are dropped; TopK limits how many are returned.",
    ],
    "workflow.md": [
        "# Knowledge retrieval node\n\nIn a workflow, the knowledge retrieval node queries one or more "
        "knowledge bases and passes the chunks to an LLM node as context.",
        "## Variables\n\nUse `{{#sys.query#}}` as the query variable of the node.",
    ],
    "api.md": [
        "# Service API keys\n\nCreate an API key under Knowledge > Service API; send it as a Bearer token.",
    ],
}
QUESTIONS = {
    "How can I combine semantic and keyword search?": ("retrieval.md", 1),
    "which node gives my LLM context from my documents": ("workflow.md", 1),
    "What is the difference between high quality and economical?": ("knowledge.md", 2),
    "how do I authenticate requests to the API": ("api.md", 1),
    "what happens to chunks below the score threshold": ("retrieval.md", 2),
}


@pytest.mark.slow
async def test_hybrid_search_finds_the_right_chunk_by_meaning(tmp_path: Path) -> None:
    """KB-RET-HYBRID with a real embedding model (local MiniLM) over Markdown: each question's chunk
    comes first, though several share few words with it."""
    plugins = (PluginSpec("local-embeddings"), PluginSpec("faiss-store"))
    settings = Settings.load(home=tmp_path)
    async with migrated_database("sqlite", tmp_path) as db, \
            PluginSupervisor(settings, groups=[GroupPlan("inline", True, plugins)]) as supervisor:
        vectors, embedder = VectorStores(supervisor, settings), Embedder(db, supervisor)
        tenant_id = await add_tenant(db)
        dataset = await add_dataset(db, tenant_id, "Docs", embedding=("local_embeddings", "all-MiniLM-L6-v2"))
        docs = [await add_document(db, dataset, name, chunks) for name, chunks in GUIDE.items()]
        await index_vectors(db, vectors, embedder, dataset, *docs)
        hybrid = method("hybrid_search", reranking_mode="weighted_score", top_k=3)
        async with Retriever(db, vectors, embedder, supervisor) as retriever:
            for question, (name, position) in QUESTIONS.items():
                found = await retriever.retrieve(tenant_id, [dataset.id], question, hybrid)
                best = found[0]
                assert (best.title, best.segment.position if best.segment else None) == (name, position), question
        async with db.session() as s:
            assert all(d.indexing_status == "completed" for d in await s.scalars(select(Document)))
