"""VectorStores (KB-RET-VECTOR, SH-ENV-VECTOR): which store and config a dataset uses, and its
collection's life through the real faiss plugin (inline)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from treadle.config import Settings
from treadle.knowledge.errors import KnowledgeError
from treadle.knowledge.vectors import VectorStores, collection_name
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import Dataset
from treadle_fake.embedding import embed


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[VectorStores]:
    settings = Settings.load(home=tmp_path)
    groups = [GroupPlan("inline", True, (PluginSpec("faiss-store"),))]
    async with PluginSupervisor(settings, groups=groups) as supervisor:
        yield VectorStores(supervisor, settings)


def _dataset(**values: object) -> Dataset:
    return Dataset(id="0b6c2a84-1f3e-4a57-9d0e-2c9f1e7a3b55", tenant_id="t1", name="kb", **values)


def test_the_dataset_store_wins_over_the_configured_one(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path, vectors={"store": "qdrant", "config": {"url": "http://q:6333"}})
    stores = VectorStores(None, settings)  # type: ignore[arg-type]  # no call is made
    assert stores.store_for(_dataset()) == ("qdrant", {"path": str(tmp_path / "vectors" / "qdrant"),
                                                       "url": "http://q:6333"})
    assert stores.store_for(_dataset(vector_store="faiss")) == ("faiss", {"path": str(tmp_path / "vectors" / "faiss")})
    assert collection_name("0B6C2A84-1f3e-4a57-9d0e-2c9f1e7a3b55") == "ds_0b6c2a841f3e4a579d0e2c9f1e7a3b55"


def test_pgvector_falls_back_to_the_main_postgresql_database(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres:secret@127.0.0.1:5432/test"
    on_postgres = VectorStores(None, Settings.load(home=tmp_path, database={"url": url}))  # type: ignore[arg-type]
    assert on_postgres.store_for(_dataset(vector_store="pgvector")) == (
        "pgvector", {"dsn": "postgresql://postgres:secret@127.0.0.1:5432/test"})
    on_sqlite = VectorStores(None, Settings.load(home=tmp_path))  # type: ignore[arg-type]
    assert on_sqlite.store_for(_dataset(vector_store="pgvector")) == ("pgvector", {})


async def test_a_collection_lives_and_dies_with_its_dataset(stores: VectorStores) -> None:
    dataset = _dataset()
    assert await stores.search(dataset, embed("x"), 3) == []  # never indexed: nothing, no call
    await stores.ensure_collection(dataset, 64)
    assert (dataset.vector_store, dataset.vector_collection, dataset.vector_dimension) == (
        "faiss", collection_name(dataset.id), 64)
    await stores.ensure_collection(dataset, 64)  # again: nothing changes
    texts = {f"n{i}": (f"text {i}", "doc-a" if i < 3 else "doc-b") for i in range(5)}
    written = await stores.upsert(dataset, [
        {"id": node, "vector": embed(text), "text": text,
         "metadata": {"dataset_id": dataset.id, "document_id": doc, "segment_id": f"s{node}"}}
        for node, (text, doc) in texts.items()
    ])  # fmt: skip
    assert written == 5 and await stores.count(dataset) == 5
    hits = await stores.search(dataset, embed("text 4"), 2)
    assert hits[0].id == "n4" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].metadata["document_id"] == "doc-b"
    only_a = await stores.search(dataset, embed("text 4"), 5, filter={"document_id": "doc-a"})
    assert {hit.id for hit in only_a} == {"n0", "n1", "n2"}
    assert await stores.search(dataset, embed("text 4"), 5, score_threshold=0.99) == [hits[0]]
    assert await stores.delete(dataset, ["n0", "missing"]) == 1
    assert await stores.delete_document(dataset, "doc-b") == 2
    assert await stores.count(dataset) == 2
    with pytest.raises(KnowledgeError, match="vectors of 64"):
        await stores.ensure_collection(dataset, 32)
    await stores.drop(dataset)
    assert await stores.count(dataset) == 0


async def test_upsert_needs_a_collection(stores: VectorStores) -> None:
    with pytest.raises(KnowledgeError, match="no vector collection yet"):
        await stores.upsert(_dataset(), [{"id": "n", "vector": embed("x")}])
    assert await stores.upsert(_dataset(), []) == 0
