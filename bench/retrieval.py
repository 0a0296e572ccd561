"""Benchmark: knowledge retrieval and ingestion (issue 6). Target: hybrid query p50 <= 20 ms at 100k
chunks on faiss, in the default placement, the embedding call excluded.

    python bench/retrieval.py [--stores faiss,pgvector,qdrant] [--sizes 10000,100000]
                              [--placement default,inline] [--backend sqlite|postgres] [--queries 200]
                              [--ingest-fake 2000] [--ingest-minilm 300] [--quick] [--json]

**Queries.** For each size, one dataset of that many chunks of Markdown-like text (words drawn with
Zipf frequencies from a vocabulary of 20,000, about 60 words a chunk, in documents of 100 chunks) in a
database of its own (SQLite, or a PostgreSQL schema), its rows and full-text index rows bulk-loaded,
and 384-number vectors (MiniLM's size; random, since only the cost matters) loaded into each store's
own collection (faiss and Qdrant's local mode under the run's data directory; pgvector on the
machine's PostgreSQL when it has the ``vector`` extension, else a private ``pgserver``). The
dataset's row is pointed at one store after another, so the stores share the rows and the full-text
index. Queries are questions of a few vocabulary words of middling frequency among stop words; each
query's embedding is put in the embedding cache first, so a retrieval makes no model call, as the
target says. Each query runs through :meth:`Retriever.retrieve` as the API does (top_k 3, hybrid by
weighted score, hit counts and the query log written as always).

Placement: ``default`` is the plan the kernel makes from its defaults (:func:`plan_groups`): the
store plugins in the ``first-party`` host process, called over gRPC on a Unix socket; ``inline``
loads them in this process.

The baseline of each row, measured in the same run, is that store's search call alone through the
supervisor, in the same placement (the same vector and number of candidates as the retriever asks
for): what semantic search cannot do without.

**Ingestion.** Chunks per second through the real pipeline (bench/retrieval_ingest.py): documents
as create-by-text makes them, indexed by ``IndexingService.run_document`` one after the other, into
faiss, with the fake provider's ``fake/fake-embedding`` (in every placement asked for) and the local
MiniLM ``local_embeddings/all-MiniLM-L6-v2`` (default placement; CPU-bound, a few texts a second),
with the share of the time spent waiting on the model.

``--quick``: 10k chunks, 50 queries, faiss in the default placement (unless ``--stores`` or
``--placement`` say otherwise), 500 fake and 16 MiniLM chunks: well under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from psycopg import sql
from sqlalchemy import insert, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_ingest import INGEST_PLUGINS, ingest
from treadle.config import Settings
from treadle.knowledge.embedding import Embedder, model_key, text_hash
from treadle.knowledge.fulltext import STOP_WORDS
from treadle.knowledge.retrieval import Retriever, candidate_count
from treadle.knowledge.retrieval_model import RetrievalSettings
from treadle.knowledge.vectors import VectorStores
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor, plan_groups
from treadle.store import (
    Database,
    Dataset,
    Document,
    DocumentSegment,
    EmbeddingCacheEntry,
    IndexNode,
    Tenant,
    upgrade_to_head,
)

DIMENSION = 384
PER_DOCUMENT = 100
TOP_K = 3
MODEL = ("local_embeddings", "all-MiniLM-L6-v2")
FAKE_MODEL = ("fake", "fake-embedding")
STORES = ("faiss", "pgvector", "qdrant")
STORE_PLUGINS = {"faiss": "faiss-store", "pgvector": "pgvector-store", "qdrant": "qdrant-store"}
PLACEMENTS = ("default", "inline")
METHODS = ("semantic_search", "full_text_search", "hybrid_search")
METHOD_NAMES = {"baseline": "store search (baseline)", "semantic_search": "semantic",
                "full_text_search": "full-text", "hybrid_search": "hybrid"}  # fmt: skip
TARGET_P50_MS = 20.0
TARGET_SIZE = 100_000
#: Records per upsert call when loading a store.
LOAD_BATCH = 500


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- placement ------------------------------------------------------------------------------------


def plugin_groups(placement: str, plugins: tuple[str, ...], home: Path) -> list[GroupPlan]:
    """The groups ``plugins`` run in: the kernel's own plan from its defaults, or all inline."""
    if placement == "inline":
        return [GroupPlan("inline", True, tuple(PluginSpec(name) for name in plugins))]
    return plan_groups(Settings.load(home=home, plugins={"load": list(plugins)}).plugins)


def describe(groups: list[GroupPlan]) -> str:
    return "; ".join(f"{g.name} ({'inline' if g.inline else 'out of process'}): "
                     f"{', '.join(p.name for p in g.plugins)}" for g in groups)  # fmt: skip


# -- the dataset ----------------------------------------------------------------------------------


@dataclass
class Corpus:
    """One size's dataset: its rows are in the database; its vectors wait to be loaded per store."""

    dataset: Dataset
    node_ids: list[str]
    segment_ids: list[str]
    document_ids: list[str]
    texts: list[str]
    matrix: np.ndarray
    queries: list[str]
    query_vectors: list[list[float]]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return sorted(words)


def chunk_text(words: list[str], weights: np.ndarray, rng: np.random.Generator) -> str:
    picked = rng.choice(len(words), size=60, p=weights)
    body = " ".join(words[i] for i in picked)
    heading = " ".join(words[i] for i in picked[:3])
    return f"## {heading.title()}\n\nThe **{words[picked[3]]}** is a {body}. See `{words[picked[4]]}`."


async def build(db: Database, chunks: int, queries: int, seed: int) -> Corpus:
    """The rows of a dataset of ``chunks`` chunks (documents, segments, full-text rows), bulk-loaded,
    and the cached embeddings of ``queries`` questions."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    words = vocabulary(20_000, rng)
    ranks = np.arange(1, len(words) + 1)
    weights = (1.0 / ranks) / (1.0 / ranks).sum()
    async with db.session() as s:
        tenant = Tenant(name="bench")
        s.add(tenant)
        await s.flush()
        dataset = Dataset(tenant_id=tenant.id, name="bench", indexing_technique="high_quality",
                          embedding_model_provider=MODEL[0], embedding_model=MODEL[1])  # fmt: skip
        s.add(dataset)
    corpus = Corpus(dataset, [], [], [], [], np.empty(0), [], [])
    started = time.perf_counter()
    for first in range(0, chunks, PER_DOCUMENT):
        document_id = str(uuid.uuid4())
        count = min(PER_DOCUMENT, chunks - first)
        texts = [chunk_text(words, weights, nrng) for _ in range(count)]
        segment_ids = [str(uuid.uuid4()) for _ in texts]
        node_ids = [str(uuid.uuid4()) for _ in texts]
        async with db.session() as s:
            await s.execute(insert(Document), [{
                "id": document_id, "tenant_id": dataset.tenant_id, "dataset_id": dataset.id,
                "position": first // PER_DOCUMENT + 1, "name": f"doc-{first // PER_DOCUMENT}.md", "batch": "b",
                "indexing_status": "completed",
            }])  # fmt: skip
            await s.execute(insert(DocumentSegment), [{
                "id": sid, "tenant_id": dataset.tenant_id, "dataset_id": dataset.id, "document_id": document_id,
                "position": i + 1, "content": text, "word_count": len(text.split()), "tokens": len(text.split()),
                "keywords": [], "index_node_id": nid, "index_node_hash": hashlib.sha256(text.encode()).hexdigest(),
                "status": "completed",
            } for i, (sid, nid, text) in enumerate(zip(segment_ids, node_ids, texts, strict=True))])  # fmt: skip
            await s.execute(insert(IndexNode), [{
                "node_id": nid, "tenant_id": dataset.tenant_id, "dataset_id": dataset.id, "document_id": document_id,
                "segment_id": sid, "content": text, "keywords": "",
            } for sid, nid, text in zip(segment_ids, node_ids, texts, strict=True)])  # fmt: skip
        corpus.node_ids += node_ids
        corpus.segment_ids += segment_ids
        corpus.document_ids += [document_id] * count
        corpus.texts += texts
        if (first // PER_DOCUMENT) % 200 == 199:
            log(f"    {first + count} chunk rows in {time.perf_counter() - started:.0f} s")
    matrix = nrng.standard_normal((chunks, DIMENSION)).astype(np.float32)
    corpus.matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    middling = words[200:3000]
    assert not STOP_WORDS & set(middling)
    for _ in range(queries):
        picked = rng.sample(middling, rng.randint(2, 4))
        corpus.queries.append(f"how do I {picked[0]} the {' '.join(picked[1:])}?")
    qrng = np.random.default_rng(seed + 1)
    key = model_key(*MODEL, "query")
    async with db.session() as s:
        for query in corpus.queries:
            vector = qrng.standard_normal(DIMENSION).astype("<f4")
            vector /= np.linalg.norm(vector)
            corpus.query_vectors.append(vector.astype(float).tolist())
            s.add(EmbeddingCacheEntry(model_key=key, text_hash=text_hash(query), dimension=DIMENSION,
                                      vector=vector.tobytes()))  # fmt: skip
    return corpus


async def point_at(db: Database, corpus: Corpus, vectors: VectorStores, store: str) -> None:
    """Make ``store`` the dataset's store (its row and ``corpus.dataset``), its collection created."""
    dataset = corpus.dataset
    dataset.vector_store, dataset.vector_collection, dataset.vector_dimension = store, None, None
    await vectors.ensure_collection(dataset, DIMENSION)
    async with db.session() as s:
        await s.execute(update(Dataset).where(Dataset.id == dataset.id).values(
            vector_store=store, vector_collection=dataset.vector_collection, vector_dimension=DIMENSION))  # fmt: skip


@contextlib.contextmanager
def hnsw_built_after(dsn: str | None, collection: str) -> Iterator[None]:
    """Bulk-load a pgvector collection as pgvector's README advises: its HNSW index dropped, then
    built again from its own definition once the rows are in (10k random vectors: 5 s instead of 55 s
    of inserts into the index). The index searched is the same; only the loading is faster."""
    if dsn is None:
        yield
        return
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        found = connection.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename LIKE %s AND indexdef LIKE %s",
            (f"%{collection}", "%USING hnsw%"),
        ).fetchall()
        for _, name, _ in found:
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        yield
        connection.execute("SET maintenance_work_mem = '1GB'")
        for table, _, definition in found:
            connection.execute(definition)
            connection.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


async def load(corpus: Corpus, vectors: VectorStores, pgvector_dsn: str | None) -> float:
    """Write the corpus's vectors into the dataset's current store; the seconds it took."""
    started = time.perf_counter()
    dataset = corpus.dataset
    assert dataset.vector_collection
    with hnsw_built_after(pgvector_dsn if dataset.vector_store == "pgvector" else None, dataset.vector_collection):
        await _upsert_all(corpus, vectors)
    return time.perf_counter() - started


async def _upsert_all(corpus: Corpus, vectors: VectorStores) -> None:
    dataset = corpus.dataset
    for first in range(0, len(corpus.node_ids), LOAD_BATCH):
        last = first + LOAD_BATCH
        await vectors.upsert(dataset, [
            {"id": nid, "vector": vector.tolist(), "text": text,
             "metadata": {"dataset_id": dataset.id, "document_id": did, "segment_id": sid}}
            for nid, sid, did, text, vector in zip(corpus.node_ids[first:last], corpus.segment_ids[first:last],
                                                   corpus.document_ids[first:last], corpus.texts[first:last],
                                                   corpus.matrix[first:last], strict=True)
        ])  # fmt: skip


# -- measuring ------------------------------------------------------------------------------------


async def timed(queries: list[str], call: Callable[[int], Awaitable[Any]], warmup: int) -> dict[str, float]:
    """Latency of ``call(i)`` for each query index, after ``warmup`` untimed calls."""
    for index in range(min(warmup, len(queries))):
        await call(index)
    timings = []
    for index in range(len(queries)):
        t0 = time.perf_counter()
        await call(index)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return {f"p{q}_ms": percentile(timings, q / 100) for q in (50, 95, 99)} | {"queries": len(timings)}


async def measure_store(
    db: Database, supervisor: PluginSupervisor, vectors: VectorStores, corpus: Corpus, warmup: int
) -> dict[str, dict[str, float]]:
    """The store's search alone, then semantic, full-text and hybrid retrieval, on the corpus."""
    dataset = corpus.dataset
    n = candidate_count(TOP_K)
    found: dict[str, dict[str, float]] = {}

    async def search(index: int) -> None:
        await vectors.search(dataset, corpus.query_vectors[index], n)

    found["baseline"] = await timed(corpus.queries, search, warmup)
    retriever = Retriever(db, vectors, Embedder(db, supervisor), supervisor)
    for method in METHODS:
        settings = RetrievalSettings.parse({"search_method": method, "top_k": TOP_K,
                                            "reranking_mode": "weighted_score"})  # fmt: skip

        async def retrieve(index: int, settings: RetrievalSettings = settings) -> None:
            await retriever.retrieve(dataset.tenant_id, [dataset.id], corpus.queries[index], settings)

        found[method] = await timed(corpus.queries, retrieve, warmup)
    return found


@contextlib.asynccontextmanager
async def size_database(backend: str, path: Path) -> Any:
    """A migrated database of one size's own (the SQLite file ``path``, or a PostgreSQL schema
    dropped after)."""
    from support.databases import drop_schema, postgres_database

    if backend == "postgres":
        db, schema = await postgres_database()
        try:
            yield db
        finally:
            await db.dispose()
            await drop_schema(schema)
        return
    db = Database(f"sqlite:///{path}")
    await upgrade_to_head(db)
    try:
        yield db
    finally:
        await db.dispose()


async def measure_queries(args: argparse.Namespace, home: Path, pgvector_dsn: str | None) -> list[dict[str, Any]]:
    plugins = tuple(STORE_PLUGINS[store] for store in args.stores)
    # Each store is the configured one of its own settings, so its config (pgvector's dsn) applies.
    store_settings = {
        store: Settings.load(home=home, vectors={"store": store, "config": {"dsn": pgvector_dsn}})
        if store == "pgvector"
        else Settings.load(home=home, vectors={"store": store})
        for store in args.stores
    }
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        async with size_database(args.backend, home / f"retrieval-{size}.db") as db:
            t0 = time.perf_counter()
            corpus = await build(db, size, args.queries, args.seed)
            log(f"  {size} chunks: rows in {time.perf_counter() - t0:.0f} s ({args.backend})")
            loaded: dict[str, float] = {}
            for placement_number, placement in enumerate(args.placement):
                groups = plugin_groups(placement, plugins, home)
                last = placement_number == len(args.placement) - 1
                async with PluginSupervisor(Settings.load(home=home), groups=groups) as supervisor:
                    for store in args.stores:
                        vectors = VectorStores(supervisor, store_settings[store])
                        await point_at(db, corpus, vectors, store)
                        if store not in loaded:
                            loaded[store] = await load(corpus, vectors, pgvector_dsn)
                            log(f"  {size} chunks: {store} loaded in {loaded[store]:.0f} s ({placement})")
                        found = await measure_store(db, supervisor, vectors, corpus, args.warmup)
                        for method, figures in found.items():
                            rows.append({"store": store, "placement": placement, "chunks": size, "method": method,
                                         **figures, "ratio_to_baseline_p50":
                                         figures["p50_ms"] / found["baseline"]["p50_ms"]})  # fmt: skip
                        log(
                            f"  {size} chunks, {store}, {placement}: "
                            + ", ".join(f"{METHOD_NAMES[m]} p50 {f['p50_ms']:.2f} ms" for m, f in found.items())
                        )
                        if last:
                            await vectors.drop(corpus.dataset)
    return rows


async def measure_ingestion(args: argparse.Namespace, home: Path) -> list[dict[str, Any]]:
    results = []
    runs = [(FAKE_MODEL, placement, args.ingest_fake) for placement in args.placement]
    if args.ingest_minilm:
        runs.append((MODEL, args.placement[0], args.ingest_minilm))
    for number, (model, placement, chunks) in enumerate(runs):
        if not chunks:
            continue
        groups = plugin_groups(placement, INGEST_PLUGINS, home)
        result = await ingest(home / f"ingest-{number}", groups, placement, model, chunks, args.seed)
        log(
            f"  ingestion {result.model} ({placement}): {result.chunks} chunks, "
            f"{result.chunks / result.seconds:.1f} chunks/s, model {100 * result.model_seconds / result.seconds:.0f} %"
        )
        results.append(result.as_dict())
    return results


# -- the report -----------------------------------------------------------------------------------


def targets(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    name = f"hybrid p50 <= {TARGET_P50_MS:g} ms at {TARGET_SIZE // 1000}k on faiss (default placement)"
    for row in rows:
        if (row["store"], row["placement"], row["chunks"], row["method"]) == (
                "faiss", "default", TARGET_SIZE, "hybrid_search"):  # fmt: skip
            yield {"target": name, "measured": f"p50 {row['p50_ms']:.2f} ms", "met": row["p50_ms"] <= TARGET_P50_MS}
            return
    yield {"target": name, "measured": "not measured in this run", "met": None}


def print_report(report: dict[str, Any]) -> None:
    setup = report["setup"]
    print(f"Retrieval benchmark: Python {setup['python']} on {setup['cpus']} CPUs (load average at start "
          f"{setup['load_average']}); database {setup['backend']}; top_k {TOP_K}, {candidate_count(TOP_K)} "
          f"candidates a search; {setup['queries']} queries after {setup['warmup']} warm-up; query embeddings "
          "cached (no model call)")  # fmt: skip
    for placement, where in setup["placements"].items():
        print(f"placement {placement}: {where}")
    if setup.get("pgvector"):
        print(f"pgvector served by: {setup['pgvector']}")
    print()
    header = (
        f"{'store':<10}{'placement':<11}{'chunks':>8}  {'method':<24}{'p50 ms':>9}{'p95':>9}{'p99':>9}{'x search':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in report["queries"]:
        print(
            f"{row['store']:<10}{row['placement']:<11}{row['chunks']:>8}  {METHOD_NAMES[row['method']]:<24}"
            f"{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['ratio_to_baseline_p50']:>10.1f}"
        )
    if report["ingestion"]:
        print()
        print("ingestion through the pipeline (create-by-text documents, IndexingService.run_document, faiss)")
        header = f"{'model':<36}{'placement':<11}{'chunks':>8}{'seconds':>9}{'chunks/s':>10}{'in model':>10}"
        print(header)
        print("-" * len(header))
        for row in report["ingestion"]:
            print(
                f"{row['model']:<36}{row['placement']:<11}{row['chunks']:>8}{row['seconds']:>9.1f}"
                f"{row['chunks_per_s']:>10.1f}{100 * row['model_share']:>9.0f}%"
            )
    print()
    print("targets")
    for target in report["targets"]:
        mark = "not measured" if target["met"] is None else ("met" if target["met"] else "MISSED")
        print(f"  [{mark}] {target['target']}: {target['measured']}")


def _list(value: str, allowed: tuple[str, ...], parser: argparse.ArgumentParser, what: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    unknown = sorted(set(items) - set(allowed))
    if unknown or not items:
        parser.error(f"{what}: choose among {', '.join(allowed)} (got {value!r})")
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", help="comma-separated: faiss, pgvector, qdrant (default: all; --quick: faiss)")
    parser.add_argument("--sizes", default="10000,100000", help="chunks per dataset, comma-separated")
    parser.add_argument("--placement", help="comma-separated: default, inline (default: both; --quick: default)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per method")
    parser.add_argument("--warmup", type=int, default=10, help="untimed queries per method first")
    parser.add_argument("--ingest-fake", type=int, default=2000, help="chunks ingested with fake/fake-embedding")
    parser.add_argument("--ingest-minilm", type=int, default=300, help="chunks ingested with MiniLM (0: none)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10k chunks, 50 queries, faiss and the default placement unless named, small ingestion",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = parser.parse_args()
    # --quick keeps to what finishes in seconds: loading pgvector (an HNSW build) and Qdrant's local
    # mode (about 300 points/s) take longer than the whole quick run.
    args.stores = _list(args.stores or ("faiss" if args.quick else ",".join(STORES)), STORES, parser, "--stores")
    args.placement = _list(
        args.placement or ("default" if args.quick else ",".join(PLACEMENTS)), PLACEMENTS, parser, "--placement"
    )
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    if args.quick:
        args.sizes, args.queries, args.warmup = [10_000], 50, 5
        args.ingest_fake, args.ingest_minilm = 500, 16
    # MiniLM's files come from an installed package; nothing may reach the hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="treadle-bench-retrieval-") as tmp:
        home = Path(tmp)
        pgvector = None
        if "pgvector" in args.stores:
            from support.pgvector import pgvector_database

            pgvector = stack.enter_context(pgvector_database())
            log(f"pgvector on the {pgvector.server} server ({pgvector.versions})")

        async def run_all() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            queries = await measure_queries(args, home, pgvector.dsn if pgvector else None)
            return queries, await measure_ingestion(args, home)

        load_average = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        queries, ingestion = asyncio.run(run_all())
        plugins = tuple(STORE_PLUGINS[store] for store in args.stores)
        report = {
            "setup": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": load_average,
                "backend": args.backend,
                "queries": args.queries,
                "warmup": args.warmup,
                "sizes": args.sizes,
                "placements": {p: describe(plugin_groups(p, plugins, home)) for p in args.placement},
                "pgvector": (
                    f"{'the machine' if pgvector.server == 'machine' else 'a private pgserver'} ({pgvector.versions})"
                )
                if pgvector
                else None,
            },
            "queries": queries,
            "ingestion": ingestion,
            "targets": list(targets(queries)),
        }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
