"""Full-text search (KB-RET-FULLTEXT, KB-INDEX-ECONOMICAL) on SQLite's FTS5 and PostgreSQL's
tsvector indexes alike: Markdown text, stemming, stop words, normalised scores, filters, and queries
that hold the engines' own syntax."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.databases import migrated_database
from treadle.knowledge.fulltext import FAST_PATH_ROWS, NodeFilter, query_terms, search_full_text
from treadle.store import Database, Dataset

from .retrieval_rows import DocumentRows, add_dataset, add_document, add_tenant

GUIDE = [
    "# Knowledge bases\n\nA **knowledge base** holds your documents. Upload Markdown, PDF or text files.",
    "## Retrieval settings\n\nYou can *configure* how chunks are retrieved: `semantic`, `full-text` or hybrid.",
    "## Rerank models\n\nA rerank model re-orders the retrieved chunks. Set one up under Model Providers.",
    "## Workflows\n\nThe [knowledge retrieval node](https://docs.example.com/nodes) queries knowledge bases.",
    "It is what it is, and that is all there is to it.",
]


@dataclass
class World:
    db: Database
    dataset: Dataset
    other: Dataset
    guide: DocumentRows
    notes: DocumentRows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with migrated_database(request.param, tmp_path) as db:
        tenant_id = await add_tenant(db)
        dataset = await add_dataset(db, tenant_id, "Guide")
        other = await add_dataset(db, tenant_id, "Other", indexing_technique="economy")
        guide = await add_document(db, dataset, "guide.md", GUIDE)
        notes = await add_document(
            db, other, "notes.txt", ["Meeting notes about the office move.", "Budget for the rerank project."],
            keywords=[["office", "meeting"], ["budget", "rerank"]],
        )  # fmt: skip
        yield World(db, dataset, other, guide, notes)


def _segments(world: World, hits: list[object]) -> list[int]:
    """Hits as the 0-based positions of the guide's segments they are."""
    order = world.guide.segment_ids
    return [order.index(hit.segment_id) for hit in hits]  # type: ignore[attr-defined]


async def test_markdown_text_is_found_by_stemmed_words(world: World) -> None:
    """KB-RET-FULLTEXT: "configuring retrieval" finds "*configure* ... retrieved" under "## Retrieval settings"."""
    hits = await search_full_text(world.db, [world.dataset.id], "configuring retrieval", 3)
    assert _segments(world, hits)[0] == 1
    assert hits[0].node_id == world.guide.nodes[world.guide.segment_ids[1]][0]
    assert hits[0].document_id == world.guide.document_id


async def test_stop_words_do_not_match_on_their_own(world: World) -> None:
    """The chunk made of stop words matches nothing of "what is the rerank model"; the rerank chunk comes first."""
    hits = await search_full_text(world.db, [world.dataset.id], "what is the rerank model?", 5)
    found = _segments(world, hits)
    assert found[0] == 2
    assert 4 not in found


async def test_a_query_of_stop_words_only_still_searches(world: World) -> None:
    """SQLite indexes every word, so the stop words are searched when there is nothing else;
    PostgreSQL's English dictionary leaves stop words out of the index, so there it finds nothing."""
    hits = await search_full_text(world.db, [world.dataset.id], "it is what it is", 5)
    if world.db.engine.dialect.name == "sqlite":
        assert _segments(world, hits)[0] == 4
    else:
        assert hits == []


async def test_scores_are_normalised_best_first(world: World) -> None:
    """The best hit scores 1.0, the others less, in order; a chunk with both terms beats one with one."""
    hits = await search_full_text(world.db, [world.dataset.id], "knowledge retrieval node", 5)
    scores = [hit.score for hit in hits]
    assert scores[0] == 1.0
    assert all(0 < s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    assert _segments(world, hits)[0] == 3  # "knowledge retrieval node" all in one chunk
    assert len(set(scores)) > 1


async def test_top_k_limits_the_hits(world: World) -> None:
    hits = await search_full_text(world.db, [world.dataset.id], "knowledge retrieval rerank chunks", 2)
    assert len(hits) == 2


@pytest.mark.parametrize(
    "query",
    ['"unbalanced rerank quote', "rerank AND NOT model", "NEAR(rerank model)", "rerank* ^model", "content: rerank",
     "rerank | model & !x", "rerank') OR 1=1 --", "re:rank (model"],
)  # fmt: skip
async def test_query_syntax_is_plain_text(world: World, query: str) -> None:
    """No FTS5 or tsquery syntax gets through: the words are searched, nothing fails."""
    hits = await search_full_text(world.db, [world.dataset.id], query, 5)
    assert 2 in _segments(world, hits)


async def test_a_query_without_words_finds_nothing(world: World) -> None:
    assert await search_full_text(world.db, [world.dataset.id], " ?! -- ** ", 5) == []
    assert await search_full_text(world.db, [], "rerank", 5) == []


async def test_only_the_given_datasets_are_searched(world: World) -> None:
    """"rerank" is in both datasets; each search sees its own."""
    mine = await search_full_text(world.db, [world.dataset.id], "rerank budget", 5)
    assert {hit.document_id for hit in mine} == {world.guide.document_id}
    both = await search_full_text(world.db, [world.dataset.id, world.other.id], "rerank budget", 5)
    assert {hit.document_id for hit in both} == {world.guide.document_id, world.notes.document_id}


async def test_the_node_filter_allows_and_excludes_documents(world: World) -> None:
    ids = [world.dataset.id, world.other.id]
    allowed = NodeFilter(document_ids=[world.notes.document_id])
    only = await search_full_text(world.db, ids, "rerank", 5, node_filter=allowed)
    assert {hit.document_id for hit in only} == {world.notes.document_id}
    excluded = NodeFilter(excluded_document_ids=[world.notes.document_id])
    rest = await search_full_text(world.db, ids, "rerank", 5, node_filter=excluded)
    assert {hit.document_id for hit in rest} == {world.guide.document_id}
    assert await search_full_text(world.db, ids, "rerank", 5, node_filter=NodeFilter(document_ids=[])) == []


async def test_keywords_only_searches_the_keywords(world: World) -> None:
    """KB-INDEX-ECONOMICAL: "office" is a keyword of the first note; "project" is only in the second's text."""
    hits = await search_full_text(world.db, [world.other.id], "office project", 5, keywords_only=True)
    assert [hit.segment_id for hit in hits] == [world.notes.segment_ids[0]]
    assert hits[0].score == 1.0


async def test_a_session_can_be_given_instead_of_the_database(world: World) -> None:
    async with world.db.session() as session:
        hits = await search_full_text(session, [world.dataset.id], "rerank", 1)
    assert _segments(world, hits) == [2]


def test_query_terms() -> None:
    assert query_terms("How do I configure the Retrieval settings?") == ["configure", "retrieval", "settings"]
    assert query_terms("What is it?") == ["what", "is", "it"]
    assert query_terms("rerank rerank RERANK") == ["rerank"]
    assert query_terms("snake_case and dify's") == ["snake", "case", "dify"]
    assert len(query_terms(" ".join(f"word{i}" for i in range(100)))) == 32


async def test_a_small_dataset_is_found_under_a_large_one(world: World) -> None:
    """The best matches of the shared index may all belong to another dataset (more of them than
    SQLite looks at first): the small dataset's own match is still found."""
    crowd = await add_dataset(world.db, world.dataset.tenant_id, "Crowd")
    chunks = [f"Apple apple apple, orchard note {i}." for i in range(FAST_PATH_ROWS + 10)]
    await add_document(world.db, crowd, "crowd.md", chunks)
    hits = await search_full_text(world.db, [world.other.id], "apple budget", 2)
    assert [hit.segment_id for hit in hits] == [world.notes.segment_ids[1]]
    crowded = await search_full_text(world.db, [crowd.id, world.other.id], "apple", 3)
    assert len(crowded) == 3 and all(hit.document_id != world.notes.document_id for hit in crowded)
