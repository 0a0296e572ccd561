"""What only the faiss store promises: nothing acknowledged is lost when its process is killed, writes
by another process are seen, concurrent calls, its configuration, the store in a plugin host, and
large collections searched through a compressed first pass that answers as an exact search does."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle_faiss_store.collection import (
    COARSE_DROP_RECORDS,
    COARSE_MIN_DIMENSION,
    COARSE_MIN_RECORDS,
    Collection,
)
from treadle_faiss_store.database import FILE_NAME
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import VectorHit
from treadle_sdk.vector_filter import parse_vector_filter

from .conftest import StoreUnderTest
from .test_conformance import cosine_ranking, random_vectors, records_of

#: Writes records into a faiss store, says so, then waits to be killed.
WRITER = textwrap.dedent(
    """
    import sys, time
    from treadle_faiss_store import FaissStore
    from treadle_sdk.extensions import CreateCollectionArgs, DeleteVectorsArgs, UpsertVectorsArgs
    from treadle_sdk.testing import MemoryKernel

    path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config = {"path": path}
    store = FaissStore()
    store.create_collection(CreateCollectionArgs(collection="docs", config=config, dimension=4), None)
    for i in range(first, last):
        vector = [float(i), 1.0, float(i % 3), 0.5]
        records = [{"id": f"p{i}", "vector": vector, "text": f"written by pid", "metadata": {"n": i}}]
        store.upsert(UpsertVectorsArgs(collection="docs", config=config, records=records), None)
    store.delete(DeleteVectorsArgs(collection="docs", config=config, ids=[f"p{first}"]), None)
    print("acknowledged", flush=True)
    time.sleep(600)
    """
)


def run_writer_and_kill_it(path: Path, first: int, last: int) -> None:
    """Run WRITER until it has acknowledged its writes, then SIGKILL it: no close, no atexit."""
    command = [sys.executable, "-c", WRITER, str(path), str(first), str(last)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "acknowledged"
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
async def faiss_store(tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
    store = StoreUnderTest("faiss", {"path": str(tmp_path / "faiss")})
    yield store
    await store.close()


async def test_a_killed_process_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "faiss"
    run_writer_and_kill_it(path, 0, 40)
    store = StoreUnderTest("faiss", {"path": str(path)})
    try:
        assert await store.call("count") == 39
        [hit] = await store.call("search", vector=[7.0, 1.0, 1.0, 0.5], top_k=1)
        assert (hit.id, hit.metadata) == ("p7", {"n": 7})
        assert await store.call("search", vector=[1.0, 0, 0, 0], filter={"n": 0}) == []  # deleted before the kill
    finally:
        await store.close()


async def test_writes_of_another_process_are_seen_by_a_loaded_collection(faiss_store: StoreUnderTest) -> None:
    await faiss_store.call("create_collection", dimension=4)
    await faiss_store.call("upsert", records=[{"id": "mine", "vector": [0, 0, 0, 1]}])
    assert [h.id for h in await faiss_store.call("search", vector=[0, 0, 0, 1])] == ["mine"]  # loaded now
    run_writer_and_kill_it(Path(faiss_store.config["path"]), 100, 110)
    assert await faiss_store.call("count") == 10
    hits = await faiss_store.call("search", vector=[105.0, 1.0, 0.0, 0.5], top_k=1, filter={"n": {"in": [105]}})
    assert [h.id for h in hits] == ["p105"]


async def test_concurrent_upserts_and_searches(faiss_store: StoreUnderTest) -> None:
    """Calls run side by side in worker threads, as in a plugin host; none is lost or torn."""
    await faiss_store.call("create_collection", dimension=8)
    vectors = random_vectors(200)
    records = records_of(vectors, [{"batch": i // 10} for i in range(200)])
    query = random_vectors(1, seed=1)[0]

    async def write(batch: int) -> None:
        assert await faiss_store.call("upsert", records=records[batch * 10 : batch * 10 + 10]) == 10

    async def read() -> None:
        for _ in range(5):
            hits = await faiss_store.call("search", vector=query, top_k=5)
            assert len({h.id for h in hits}) == len(hits) <= 5

    await asyncio.gather(*[write(b) for b in range(20)], *[read() for _ in range(4)])
    assert await faiss_store.call("count") == 200
    hits = await faiss_store.call("search", vector=query, top_k=10)
    assert [h.id for h in hits] == [i for i, _ in cosine_ranking(query, records)[:10]]


async def test_the_store_is_one_sqlite_file_under_path(faiss_store: StoreUnderTest) -> None:
    await faiss_store.call("create_collection", dimension=2)
    assert sorted(os.listdir(faiss_store.config["path"]))[0] == FILE_NAME


async def test_the_default_directory_is_under_treadle_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path))
    store = StoreUnderTest("faiss", {})
    try:
        await store.call("create_collection", dimension=2)
        assert (tmp_path / "vectors" / FILE_NAME).is_file()
        monkeypatch.delenv("TREADLE_HOME")
        with pytest.raises(PluginInvalidArgument, match="set config 'path' or the TREADLE_HOME"):
            await store.call("count")
    finally:
        await store.close()


async def test_unknown_config_fields_are_refused(tmp_path: Path) -> None:
    store = StoreUnderTest("faiss", {"path": str(tmp_path), "dsn": "postgresql://"})
    with pytest.raises(PluginInvalidArgument, match=r"bad faiss store config at config\.dsn"):
        await store.call("count")


async def test_the_store_in_a_plugin_host(tmp_path: Path) -> None:
    """The faiss plugin out of process, through the kernel's supervisor: wire types both ways, and
    typed errors across the boundary."""
    settings = Settings.load(home=tmp_path)
    groups = [GroupPlan("first-party", False, (PluginSpec("faiss-store"),))]
    config = {"path": str(tmp_path / "vectors")}
    records = records_of(random_vectors(30), [{"document_id": f"d{i % 3}"} for i in range(30)])
    query = random_vectors(1, seed=8)[0]
    async with PluginSupervisor(settings, groups=groups) as supervisor:

        async def call(operation: str, **payload: object) -> object:
            return await supervisor.call(
                "vector_store", "faiss", operation, {"collection": "kb", "config": config, **payload}
            )

        assert await call("create_collection", dimension=8) is None
        assert await call("upsert", records=records) == 30
        hits = await call("search", vector=query, top_k=3, filter={"document_id": {"not_in": ["d0"]}})
        assert isinstance(hits, list) and all(isinstance(h, VectorHit) for h in hits)
        expected = [i for i, _ in cosine_ranking(query, records) if int(i[1:]) % 3 != 0][:3]
        assert [h.id for h in hits] == expected
        assert await call("delete_where", filter={"document_id": "d1"}) == 10
        assert await call("count") == 20
        with pytest.raises(PluginInvalidArgument) as caught:
            await call("create_collection", dimension=4)
        assert caught.value.details == {"collection": "kb", "dimension": 8, "given": 4}
        assert caught.value.call == "vector_store/faiss.create_collection"


# -- the compressed first pass of large collections (KB-RET-VECTOR) -------------------------------


def large_collection(
    count: int = COARSE_MIN_RECORDS, dimension: int = COARSE_MIN_DIMENSION
) -> tuple[Collection, np.ndarray]:
    """A collection just large enough for a first pass: records 1..count, 100 per document."""
    vectors = np.random.default_rng(3).normal(size=(count, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    collection = Collection(dimension)
    metadata = [{"document_id": f"d{i // 100}"} for i in range(count)]
    collection.add(np.arange(1, count + 1, dtype=np.int64), vectors, metadata)
    return collection, vectors


def exact_top(vectors: np.ndarray, query: np.ndarray, top_k: int, keep: np.ndarray | None = None) -> list[int]:
    """The nums (row + 1) of the exact top ``top_k`` among the rows ``keep`` (every row by default)."""
    scores = vectors @ query
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    return [int(row) + 1 for row in np.argsort(-scores, kind="stable")[:top_k]]


def queries_near(vectors: np.ndarray, rows: list[int], seed: int = 5) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=(len(rows), vectors.shape[1])).astype(np.float32)
    queries = vectors[rows] + 0.3 * noise / np.sqrt(vectors.shape[1])
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def test_a_large_collection_is_searched_through_a_first_pass_with_exact_scores() -> None:
    """The first pass only names candidates: the hits are ranked by exact scores, and they are the
    exact top hits but for near-ties among the last (random vectors: the hardest case)."""
    collection, vectors = large_collection()
    assert collection.coarse is not None and collection.coarse.codes == COARSE_MIN_RECORDS
    documents = np.arange(COARSE_MIN_RECORDS) // 100
    filters: list[tuple[dict[str, Any] | None, np.ndarray | None]] = [
        (None, None),
        ({"document_id": {"not_in": ["d0", "d1", "d7"]}}, ~np.isin(documents, [0, 1, 7])),
        ({"document_id": {"in": [f"d{i}" for i in range(0, 200, 2)]}}, documents % 2 == 0),
    ]
    for query in queries_near(vectors, [0, 150, 777, 19_999]):
        for conditions, keep in filters:
            ranked = collection.search(query[None, :], 10, parse_vector_filter(conditions))
            exact = exact_top(vectors, query, 10, keep)
            assert ranked.nums[:3] == exact[:3] and len(set(ranked.nums) & set(exact)) >= 9, conditions
            assert ranked.scores == pytest.approx((vectors[np.array(ranked.nums) - 1] @ query).tolist(), abs=1e-6)
            assert ranked.scores == sorted(ranked.scores, reverse=True)
            if keep is not None:
                assert keep[np.array(ranked.nums) - 1].all()


def test_removed_and_replaced_records_never_come_back_from_the_first_pass() -> None:
    """Removing a record leaves its code in the first pass (fast-scan removes slowly): the search
    must skip it, score a replaced record by its new vector, and re-encode once stale codes pile up."""
    count = 30_000
    collection, vectors = large_collection(count)
    coarse = collection.coarse
    assert coarse is not None
    query = queries_near(vectors, [42])[0]
    best = exact_top(vectors, query, 3)
    collection.remove(best[:2])
    # Record best[2] now points the other way: it must drop out of the top, not keep its old rank.
    collection.remove([best[2]])
    collection.add(np.array([best[2]], dtype=np.int64), -query[None, :], [{"document_id": "moved"}])
    # Two removed and one replaced: all three codes are stale.
    assert coarse.codes == count + 1 and collection.size == count - 2
    ranked = collection.search(query[None, :], 10, [])
    keep = ~np.isin(np.arange(1, count + 1), best)
    assert ranked.nums[:3] == exact_top(vectors, query, 3, keep) and not set(ranked.nums) & set(best)
    [worst] = collection.search(-query[None, :], 1, []).nums
    assert worst == best[2]
    # Stale codes past a quarter of the records: the first pass is re-encoded without them.
    collection.remove(range(1000, 7500))
    assert collection.coarse is coarse and coarse.codes == collection.size
    keep &= ~np.isin(np.arange(1, count + 1), np.arange(1000, 7500))
    ranked = collection.search(query[None, :], 10, [])
    assert ranked.nums[:3] == exact_top(vectors, query, 3, keep) and keep[np.array(ranked.nums) - 1].all()


def test_a_large_collection_of_few_dimensions_is_searched_exactly() -> None:
    collection, vectors = large_collection(dimension=COARSE_MIN_DIMENSION // 2)
    assert collection.coarse is None
    for query in queries_near(vectors, [3, 9_000]):
        assert collection.search(query[None, :], 10, []).nums == exact_top(vectors, query, 10)


def test_a_collection_that_shrinks_goes_back_to_exact_search() -> None:
    collection, vectors = large_collection()
    collection.remove(range(1, COARSE_MIN_RECORDS - COARSE_DROP_RECORDS + 1))
    assert collection.coarse is not None  # between the two thresholds: kept, but not used
    query = queries_near(vectors, [COARSE_MIN_RECORDS - 1])[0]
    keep = np.arange(1, COARSE_MIN_RECORDS + 1) > COARSE_MIN_RECORDS - COARSE_DROP_RECORDS
    assert collection.search(query[None, :], 5, []).nums == exact_top(vectors, query, 5, keep)
    collection.remove([COARSE_MIN_RECORDS])
    assert collection.coarse is None


async def test_a_large_collection_gets_its_first_pass_back_after_a_restart(tmp_path: Path) -> None:
    """Upserts cross the threshold in one process; a new store instance builds the first pass while
    loading, and both answer as an exact search does."""
    count, dimension = COARSE_MIN_RECORDS + 500, COARSE_MIN_DIMENSION
    vectors = random_vectors(count, dimension=dimension, seed=12)
    records = records_of(vectors, [{"document_id": f"d{i % 40}"} for i in range(count)])
    config = {"path": str(tmp_path / "faiss")}
    store = StoreUnderTest("faiss", config)
    await store.call("create_collection", dimension=dimension)
    for start in range(0, count, 5000):
        await store.call("upsert", records=records[start : start + 5000])
    again = StoreUnderTest("faiss", config)
    try:
        for query in (vectors[10], vectors[20_100]):
            expected = [i for i, _ in cosine_ranking(query, records)[:5]]
            for opened in (store, again):
                assert [h.id for h in await opened.call("search", vector=query, top_k=5)] == expected
        for opened in (store, again):
            [directory] = opened.instance._directories.values()
            assert directory._loaded["docs"].coarse is not None
    finally:
        await store.close()
        await again.close()
