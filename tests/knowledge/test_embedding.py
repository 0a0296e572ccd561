"""The Embedder (KB-INDEX-HQ): texts go to the workspace's embedding model (openai_compat in front
of a local HTTP server) in batches, each answer is cached at once, and a cached text is never sent
again, by this embedder or another one on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from treadle.knowledge.embedding import Embedder, model_key, text_hash
from treadle.knowledge.errors import ModelNotConfigured, ModelRequestFailed
from treadle.store import EmbeddingCacheEntry
from treadle_fake.embedding import embed

from .indexing_world import MODEL, World, indexing_world

TEXTS = [f"text number {n}" for n in range(7)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with indexing_world(request.param, tmp_path, batch_size=3) as made:
        yield made


async def _cached(world: World) -> int:
    async with world.db.session() as session:
        return await session.scalar(select(func.count()).select_from(EmbeddingCacheEntry)) or 0


async def test_texts_are_embedded_in_batches_and_never_twice(world: World) -> None:
    vectors = await world.embedder.embed(world.tenant_id, *MODEL, TEXTS)
    assert vectors == [pytest.approx(embed(t), abs=1e-6) for t in TEXTS]
    assert world.server.requests == [TEXTS[0:3], TEXTS[3:6], TEXTS[6:7]]
    assert await _cached(world) == 7
    async with world.db.session() as session:
        entry = await session.get(EmbeddingCacheEntry, (model_key(*MODEL), text_hash(TEXTS[0])))
    assert entry is not None and entry.dimension == 64 and len(entry.vector) == 64 * 4

    # Cached texts are not sent again, by this embedder or by another one (another process);
    # a text given twice in one call is sent once; the vectors are the same, cached or not.
    other = Embedder(world.db, world.supervisor, batch_size=3)
    again = await other.embed(world.tenant_id, *MODEL, ["new one", TEXTS[2], "new one", TEXTS[5]])
    assert world.server.requests[3:] == [["new one"]]
    assert again == [pytest.approx(embed("new one"), abs=1e-6), vectors[2], again[0], vectors[5]]
    assert again[1] == vectors[2]


async def test_query_embeddings_are_cached_apart_from_documents(world: World) -> None:
    await world.embedder.embed(world.tenant_id, *MODEL, ["what is the refund policy?"])
    await world.embedder.embed(world.tenant_id, *MODEL, ["what is the refund policy?"], input_type="query")
    assert len(world.server.requests) == 2
    await world.embedder.embed(world.tenant_id, *MODEL, ["what is the refund policy?"], input_type="query")
    assert len(world.server.requests) == 2
    assert model_key(*MODEL, "query") == "openai_compat/embedder#query"


async def test_recent_query_embeddings_are_answered_from_memory(world: World) -> None:
    """A query asked again is answered without the database (its cache row gone here, so a read would
    have to ask the model); the oldest of more than ``query_memory`` queries is forgotten."""
    embedder = Embedder(world.db, world.supervisor, query_memory=2)
    first = await embedder.embed(world.tenant_id, *MODEL, ["q1", "q2"], input_type="query")
    async with world.db.session() as session:
        await session.execute(delete(EmbeddingCacheEntry))
    assert await embedder.embed(world.tenant_id, *MODEL, ["q2", "q1"], input_type="query") == first[::-1]
    assert world.server.requests == [["q1", "q2"]]
    await embedder.embed(world.tenant_id, *MODEL, ["q3"], input_type="query")  # q1 was used last: q2 goes
    await embedder.embed(world.tenant_id, *MODEL, ["q1", "q3"], input_type="query")
    assert world.server.requests == [["q1", "q2"], ["q3"]]
    assert await embedder.embed(world.tenant_id, *MODEL, ["q2"], input_type="query") == [first[1]]
    assert world.server.requests[-1] == ["q2"]
    # Documents are not kept in memory: the cache is their only store.
    await embedder.embed(world.tenant_id, *MODEL, ["doc"])
    async with world.db.session() as session:
        await session.execute(delete(EmbeddingCacheEntry))
    await embedder.embed(world.tenant_id, *MODEL, ["doc"])
    assert world.server.requests[-2:] == [["doc"], ["doc"]]


async def test_answers_are_kept_when_a_later_batch_fails(world: World) -> None:
    """Each batch is cached as soon as the model answers: a failure in the next batch loses nothing."""
    world.server.hold = 2
    world.server.release.set()  # the second request is refused at once
    with pytest.raises(ModelRequestFailed) as caught:
        await world.embedder.embed(world.tenant_id, *MODEL, TEXTS)
    assert "openai_compat/embedder" in caught.value.message and caught.value.code == "completion_request_error"
    assert await _cached(world) == 3
    await world.embedder.embed(world.tenant_id, *MODEL, TEXTS)
    assert world.server.requests[2:] == [TEXTS[3:6], TEXTS[6:7]]
    assert sorted(world.server.answered) == sorted(TEXTS)


async def test_model_errors_say_which_model_and_why(world: World) -> None:
    with pytest.raises(ModelRequestFailed, match="broken") as failed:
        await world.embedder.embed(world.tenant_id, MODEL[0], "broken", ["x"])
    assert "openai_compat/broken" in failed.value.message
    with pytest.raises(ModelNotConfigured) as missing:
        await world.embedder.embed(world.tenant_id, "no_such_provider", "m", ["x"])
    assert "no_such_provider/m" in missing.value.message and missing.value.code == "provider_not_initialize"
    assert await _cached(world) == 0
    assert await world.embedder.embed(world.tenant_id, *MODEL, []) == []
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(world.db, world.supervisor, batch_size=0)
