"""Retrieval: the chunks of one or more datasets that answer a query (KB-RET-VECTOR, KB-RET-FULLTEXT,
KB-RET-HYBRID, KB-RET-RERANK, KB-RET-MULTIPATH, KB-INDEX-ECONOMICAL, KB-META-FILTER, KB-EXT-SPEC,
KB-TEST-RETRIEVAL).

Every dataset is searched at once (``asyncio.gather``), each by its kind:

- **semantic**: the query is embedded with the dataset's model and the vector store gives the nearest
  pieces; a piece's score is its cosine similarity (clipped to 0..1).
- **full-text**: :func:`~treadle.knowledge.fulltext.search_full_text`; scores are bm25 (or
  ``ts_rank_cd``) divided by the query's best, so the best match is 1.0.
- **hybrid**: both at once, then merged by Weighted Score or handed to the rerank model.
- **economy** datasets: their chunks' keywords are searched, whatever the method says.
- **external** datasets: their API is asked (:mod:`treadle.knowledge.external`).

**How Weighted Score merges.** Cosine and bm25 live on different scales (MiniLM's cosines of
related text sit around 0.3 to 0.7; bm25 has no upper bound), so both are normalised per query
before they are weighed. The keyword score is already the ratio to the query's best match (0 is
"no term matched", 1 the best). The vector score is min-max normalised over the query's vector
candidates: the best candidate 1, the last of the (at least 50) candidates 0, which stands in for
"unrelated", since a vector search always returns neighbours, related or not. (When a dataset has
fewer pieces than that, all of them came back and the floor is 0 instead: the ratio to the best.) The merged score is
``w_v * vector + w_k * keyword`` with the weights scaled to add up to 1; a piece found by one side
only gets 0 from the other. Such scores say how good a chunk is *relative to this query's best*, so
a score threshold on hybrid search keeps the chunks close to the best rather than above an absolute
similarity.

In parent-child datasets the pieces are child chunks: they are grouped under their parent segment,
which is what is returned, with the best child's score and the matched children listed with theirs.

Chunks of disabled, archived or not (yet) completed documents and disabled segments are never
returned: those documents are excluded inside the searches (vector filter and SQL), and segments
are checked when their rows are loaded (one query per dataset). The pooled chunks of all datasets
are then reranked by the rerank model when one is enabled, or else ordered by score, cut to TopK and
to the score threshold. Each retrieval is logged per dataset (:class:`DatasetQuery`, the Records of
KB-TEST-RETRIEVAL) and counts a hit on every segment it returns, written in the background
(:mod:`treadle.knowledge.query_log`; :meth:`Retriever.flush` waits for it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session
from treadle_sdk.errors import PluginError, PluginNotFound
from treadle_sdk.extensions import VectorHit
from treadle_sdk.knowledge import RESOURCE_FIELDS

from ..store import ChildChunk, Database, Dataset, Document, DocumentSegment, new_id, utcnow
from .errors import ModelNotConfigured, ModelRequestFailed
from .external import ExternalKnowledgeApis, ExternalRecord
from .fulltext import FullTextHit, NodeFilter, search_full_text
from .metadata_filter import MetadataFilter, allowed_documents
from .query_log import QueryLog
from .retrieval_model import DEFAULT_TOP_K, RetrievalSettings, SearchMethod
from .views import segment_view

if TYPE_CHECKING:
    from ..plugins import PluginSupervisor

__all__ = ["ChildChunkHit", "RetrievedChunk", "Retriever", "candidate_count"]

Source = Literal["api", "app", "hit_testing"]

#: Seconds a dataset's list of unavailable documents is reused (see Retriever._unavailable).
_UNAVAILABLE_TTL = 2.0

#: Pieces asked of each search of each dataset, at least; more for a larger TopK (see candidate_count).
#: 50 rather than 20: the floor of the vector scores stands for "unrelated" better, and the two
#: searches' lists overlap more (on 20 questions over the Dify docs, MiniLM, hybrid 0.7/0.3: 18 of
#: the right pages in the top 3 against 17 with 20 candidates).
MIN_CANDIDATES = 50
#: Segment rows loaded beyond TopK in case some turn out disabled.
_SPARE_ROWS = 2


def candidate_count(top_k: int) -> int:
    """How many pieces each search of a dataset returns for a TopK: enough to merge and rerank from,
    and enough for the min-max floor of vector scores to stand for "unrelated"."""
    return max(MIN_CANDIDATES, 4 * top_k)


class VectorSearch(Protocol):
    """What retrieval needs of :class:`~treadle.knowledge.vectors.VectorStores`."""

    async def search(
        self, dataset: Dataset, vector: Sequence[float], top_k: int, filter: Mapping[str, Any] | None = None,
        score_threshold: float | None = None,
    ) -> list[VectorHit]: ...  # fmt: skip


class QueryEmbedder(Protocol):
    """What retrieval needs of :class:`~treadle.knowledge.embedding.Embedder`."""

    async def embed(
        self, tenant_id: str, provider: str, model: str, texts: Sequence[str], *,
        input_type: Literal["document", "query"],
    ) -> list[list[float]]: ...  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChildChunkHit:
    """A child chunk that matched, in parent-child datasets."""

    id: str
    content: str
    position: int
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "content": self.content, "position": self.position, "score": self.score}


@dataclass(slots=True)
class RetrievedChunk:
    """A chunk that answers the query: its segment and document (None for an external dataset's
    record, which has ``external`` instead), its dataset, score and matched child chunks."""

    dataset_id: str
    dataset_name: str
    score: float
    segment: DocumentSegment | None = None
    document: Document | None = None
    child_chunks: list[ChildChunkHit] = field(default_factory=list)
    external: ExternalRecord | None = None

    @property
    def content(self) -> str:
        """What a model should read: the chunk, or for a Q&A chunk its question and answer."""
        if self.segment is None:
            return self.external.content if self.external else ""
        if self.segment.answer:
            return f"question:{self.segment.content} answer:{self.segment.answer}"
        return self.segment.content

    @property
    def title(self) -> str:
        """The document's name (an external record's title)."""
        if self.document is not None:
            return self.document.name
        return self.external.title if self.external else ""

    def as_api_record(self) -> dict[str, Any]:
        """The record of API-KB-RETRIEVE (``records[]``), or an external dataset's
        ``{content, title, score, metadata}``."""
        if self.segment is None or self.document is None:
            record = self.external or ExternalRecord("", self.score, "", {})
            return {"content": record.content, "title": record.title, "score": self.score,
                    "metadata": dict(record.metadata)}  # fmt: skip
        segment = segment_view(self.segment)
        segment.pop("child_chunks")
        segment.pop("attachments")
        segment["document"] = {
            "id": self.document.id, "data_source_type": self.document.data_source_type, "name": self.document.name,
            "doc_type": self.document.doc_type, "doc_metadata": self.document.doc_metadata,
        }  # fmt: skip
        return {
            "segment": segment, "child_chunks": [child.as_dict() for child in self.child_chunks],
            "score": self.score, "tsne_position": None, "files": [], "summary": self.segment.summary,
        }  # fmt: skip

    def as_retriever_resource(self, position: int, retriever_from: str = "workflow") -> dict[str, Any]:
        """A citation (``retriever_resources[]`` of API-SSE-MSG-END; the fields of
        :data:`treadle_sdk.knowledge.RESOURCE_FIELDS`), numbered ``position`` from 1."""
        segment, document = self.segment, self.document
        resource = {
            "position": position,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "document_id": document.id if document else None,
            "document_name": self.title,
            "data_source_type": document.data_source_type if document else "external",
            "segment_id": segment.id if segment else None,
            "retriever_from": retriever_from,
            "score": self.score,
            "hit_count": segment.hit_count if segment else None,
            "word_count": segment.word_count if segment else None,
            "segment_position": segment.position if segment else None,
            "index_node_hash": segment.index_node_hash if segment else None,
            "content": self.content,
            "summary": segment.summary if segment else None,
            "doc_metadata": (document.doc_metadata if document else (self.external.metadata if self.external else {})),
            "child_chunks": [child.as_dict() for child in self.child_chunks],
        }
        assert tuple(resource) == RESOURCE_FIELDS
        return resource


@dataclass(slots=True)
class _Piece:
    """A searched piece (a segment's text or a child chunk) and its scores from each side."""

    segment_id: str
    vector: float | None = None
    keyword: float | None = None
    score: float = 0.0


class Retriever:
    """Retrieval over the datasets of ``db``: vectors through ``vectors``, query embeddings through
    ``embedder`` (cached per model as ``query`` embeddings), rerank models through ``supervisor``,
    external datasets through ``external``."""

    def __init__(
        self,
        db: Database,
        vectors: VectorSearch,
        embedder: QueryEmbedder,
        supervisor: PluginSupervisor,
        external: ExternalKnowledgeApis | None = None,
    ) -> None:
        self.db = db
        self.vectors = vectors
        self.embedder = embedder
        self.supervisor = supervisor
        self.external = external
        self.query_log = QueryLog(db)
        self._unavailable_cache: dict[str, tuple[float, set[str]]] = {}

    async def retrieve(
        self,
        tenant_id: str,
        dataset_ids: Sequence[str],
        query: str,
        settings: RetrievalSettings | None = None,
        *,
        metadata_condition: MetadataFilter | Mapping[str, Any] | None = None,
        source: Source = "api",
        app_id: str | None = None,
        created_by: str | None = None,
        created_by_role: Literal["account", "end_user"] = "account",
    ) -> list[RetrievedChunk]:
        """The chunks of ``dataset_ids`` (those of ``tenant_id``; others are ignored) that best
        answer ``query``, best first. ``settings`` None searches each dataset with its own settings."""
        metadata_filter = MetadataFilter.parse(metadata_condition)
        if not query.strip():
            return []
        async with self.db.session() as session:
            found = {d.id: d for d in await session.scalars(
                select(Dataset).where(Dataset.id.in_(list(dataset_ids)), Dataset.tenant_id == tenant_id)
            )}  # fmt: skip
            datasets = [found[i] for i in dict.fromkeys(dataset_ids) if i in found]
        if not datasets:
            return []
        allowed = None
        if metadata_filter is not None:
            internal = [d.id for d in datasets if d.provider != "external"]
            allowed = await allowed_documents(self.db, internal, metadata_filter) if internal else set()
        plans = [(dataset, settings or _own_settings(dataset)) for dataset in datasets]
        final = settings or (plans[0][1] if len(plans) == 1 else _pooled_settings([own for _, own in plans]))
        # Without a rerank model the pooled chunks are cut to the best TopK by score, so no dataset
        # can contribute more than that: only those chunks' rows are loaded.
        limit = None if final.uses_rerank_model else final.top_k
        found_per_dataset = await asyncio.gather(*(
            self._search(tenant_id, dataset, query, own, allowed, metadata_filter, limit) for dataset, own in plans
        ))  # fmt: skip
        pooled = []
        for (_, own), chunks in zip(plans, found_per_dataset, strict=True):
            if settings is None and not own.uses_rerank_model:
                # Searched with its own settings: its own TopK and threshold hold before pooling.
                threshold = own.threshold
                chunks = [c for c in chunks if threshold is None or c.score >= threshold][: own.top_k]
            pooled.extend(chunks)
        chunks = await self._merge(tenant_id, query, pooled, final)
        self._record(datasets, query, chunks, source, app_id, created_by, created_by_role)
        return chunks

    # -- one dataset -------------------------------------------------------------------------------------

    async def _search(
        self,
        tenant_id: str,
        dataset: Dataset,
        query: str,
        settings: RetrievalSettings,
        allowed: set[str] | None,
        metadata_filter: MetadataFilter | None,
        limit: int | None,
    ) -> list[RetrievedChunk]:
        if dataset.provider == "external":
            return await self._external(dataset, query, settings, metadata_filter)
        if not dataset.indexing_technique:
            return []  # no document yet (KB-CHUNK-IMMUTABLE): nothing is indexed
        method: SearchMethod = "keyword_search" if dataset.indexing_technique == "economy" else settings.search_method
        n = candidate_count(settings.top_k)
        semantic = method in ("semantic_search", "hybrid_search")
        full_text = method in ("full_text_search", "hybrid_search", "keyword_search")
        # The vector search starts first, once it knows which documents to leave out; the full-text
        # search and the row load run meanwhile as single steps (Database.read: on SQLite a worker
        # thread each, outside the GIL while SQLite works), so neither waits on the other.
        vectors: asyncio.Future[list[VectorHit]] | None = None
        try:
            excluded = await self._unavailable(dataset.id)
            if allowed is not None:
                allowed = allowed - excluded
                if not allowed:
                    return []
                vector_filter: dict[str, Any] | None = {"document_id": {"in": sorted(allowed)}}
            else:
                vector_filter = {"document_id": {"not_in": sorted(excluded)}} if excluded else None
            if semantic:
                vectors = asyncio.ensure_future(self._vector_search(tenant_id, dataset, query, n, vector_filter))
            text_hits = await search_full_text(
                self.db, [dataset.id], query, n, keywords_only=method == "keyword_search",
                node_filter=NodeFilter(document_ids=allowed, excluded_document_ids=excluded),
            ) if full_text else []  # fmt: skip
            vector_hits = await vectors if vectors is not None else []
            pieces = _score(vector_hits, text_hits, settings if method == "hybrid_search" else None, n)
            if not pieces:
                return []
            return await self.db.read(lambda connection: _load(connection, dataset, pieces, limit))
        finally:
            if vectors is not None and not vectors.done():
                vectors.cancel()

    async def _vector_search(
        self, tenant_id: str, dataset: Dataset, query: str, n: int, vector_filter: dict[str, Any] | None
    ) -> list[VectorHit]:
        if not dataset.embedding_model_provider or not dataset.embedding_model:
            raise ModelNotConfigured(f"dataset {dataset.id} has no embedding model to search its vectors with")
        [vector] = await self.embedder.embed(
            tenant_id, dataset.embedding_model_provider, dataset.embedding_model, [query], input_type="query"
        )
        return await self.vectors.search(dataset, vector, n, filter=vector_filter)

    async def _external(
        self, dataset: Dataset, query: str, settings: RetrievalSettings, metadata_filter: MetadataFilter | None
    ) -> list[RetrievedChunk]:
        if self.external is None:
            return []
        records = await self.external.retrieve(
            dataset, query, top_k=settings.top_k, score_threshold=settings.threshold, metadata_condition=metadata_filter
        )
        return [RetrievedChunk(dataset.id, dataset.name, r.score, external=r) for r in records]

    # -- all datasets ------------------------------------------------------------------------------------

    async def _merge(
        self, tenant_id: str, query: str, pooled: list[RetrievedChunk], settings: RetrievalSettings
    ) -> list[RetrievedChunk]:
        threshold = settings.threshold
        if settings.uses_rerank_model and pooled:
            return await self._rerank(tenant_id, query, pooled, settings)
        ranked = sorted(pooled, key=_rank)
        if threshold is not None:
            ranked = [chunk for chunk in ranked if chunk.score >= threshold]
        return ranked[: settings.top_k]

    async def _rerank(
        self, tenant_id: str, query: str, pooled: list[RetrievedChunk], settings: RetrievalSettings
    ) -> list[RetrievedChunk]:
        model = settings.reranking_model
        assert model is not None
        where = f"rerank model {model.provider}/{model.model}"
        try:
            with self.supervisor.kernel_client(tenant_id=tenant_id) as kernel:
                result = await kernel.ainvoke_rerank(
                    model.provider, model.model, query, [chunk.content for chunk in pooled],
                    score_threshold=settings.threshold, top_n=settings.top_k,
                )  # fmt: skip
        except PluginNotFound as exc:
            raise ModelNotConfigured(f"The {where} is not available in this workspace: {exc.message}") from None
        except PluginError as exc:
            raise ModelRequestFailed(f"The {where} failed: {exc.message}") from None
        reranked = []
        for doc in result.docs[: settings.top_k]:
            if 0 <= doc.index < len(pooled):
                chunk = pooled[doc.index]
                chunk.score = doc.score
                reranked.append(chunk)
        return reranked

    def _record(
        self,
        datasets: Sequence[Dataset],
        query: str,
        chunks: Sequence[RetrievedChunk],
        source: Source,
        app_id: str | None,
        created_by: str | None,
        created_by_role: str,
    ) -> None:
        """Log the query per dataset and count a hit on each returned segment (written in the
        background by :class:`~treadle.knowledge.query_log.QueryLog`; the chunks returned show it)."""
        segment_ids = [chunk.segment.id for chunk in chunks if chunk.segment is not None]
        now = utcnow()
        self.query_log.add(
            [{"id": new_id(), "dataset_id": dataset.id, "content": query, "source": source, "source_app_id": app_id,
              "created_by_role": created_by_role, "created_by": created_by, "created_at": now}
             for dataset in datasets],
            segment_ids,
        )  # fmt: skip
        for chunk in chunks:
            if chunk.segment is not None:
                chunk.segment.hit_count += 1

    async def flush(self) -> None:
        """Wait until the records of the retrievals so far are written."""
        await self.query_log.flush()

    async def __aenter__(self) -> Retriever:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Leaving ``async with`` writes the log: its writer must not outlive the database."""
        await self.flush()

    async def _unavailable(self, dataset_id: str) -> set[str]:
        """:func:`_unavailable_documents`, remembered for a moment: it is only a narrowing of the
        searches (rows are checked again when loaded), so a document that changed state a moment ago
        costs at most a wasted candidate, never a wrong answer."""
        now = time.monotonic()
        cached = self._unavailable_cache.get(dataset_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self.db.read(lambda connection: _unavailable_documents(connection, dataset_id))
        self._unavailable_cache[dataset_id] = (now + _UNAVAILABLE_TTL, found)
        return found


# -- scoring --------------------------------------------------------------------------------------------


def _rank(chunk: RetrievedChunk) -> tuple[float, int, int]:
    # Best score first; ties in document order, so equal scores give a stable answer.
    segment = chunk.segment
    return (-chunk.score, segment.position if segment else 0, chunk.document.position if chunk.document else 0)


def _score(
    vector_hits: Sequence[VectorHit], text_hits: Sequence[FullTextHit], hybrid: RetrievalSettings | None,
    candidates: int,
) -> dict[str, _Piece]:
    """Each piece found and its score: the one side's score, or for hybrid search the weighted sum of
    both sides' normalised scores (see the module docstring)."""
    pieces: dict[str, _Piece] = {}
    if vector_hits:
        cosines = [max(0.0, min(1.0, hit.score)) for hit in vector_hits]
        # The floor is the last candidate only when the search had more to give (a full list); a
        # dataset smaller than that was returned whole, and its worst chunk may well be related.
        best, worst = max(cosines), (min(cosines) if len(vector_hits) >= candidates else 0.0)
        for hit, cosine in zip(vector_hits, cosines, strict=True):
            segment_id = str(hit.metadata.get("segment_id", ""))
            normalised = (cosine - worst) / (best - worst) if best > worst else 1.0
            pieces[hit.id] = _Piece(segment_id, vector=normalised if hybrid else cosine)
    for text_hit in text_hits:
        piece = pieces.setdefault(text_hit.node_id, _Piece(text_hit.segment_id))
        piece.keyword = text_hit.score
    vector_weight, keyword_weight = hybrid.hybrid_weights if hybrid else (1.0, 1.0)
    for piece in pieces.values():
        if hybrid is None:
            piece.score = piece.vector if piece.vector is not None else piece.keyword or 0.0
        else:
            piece.score = vector_weight * (piece.vector or 0.0) + keyword_weight * (piece.keyword or 0.0)
    return pieces


def _own_settings(dataset: Dataset) -> RetrievalSettings:
    """A dataset's stored settings (the defaults when it has none; keyword search when economical;
    an external dataset's TopK and threshold, KB-EXT-KB)."""
    if dataset.provider == "external":
        own = dataset.external_retrieval_model or {}
        top_k, threshold = own.get("top_k"), own.get("score_threshold")
        return RetrievalSettings(
            top_k=top_k if isinstance(top_k, int) and top_k > 0 else DEFAULT_TOP_K,
            score_threshold_enabled=bool(own.get("score_threshold_enabled")),
            score_threshold=float(threshold) if isinstance(threshold, int | float) else 0.0,
        )
    settings = RetrievalSettings.parse(dataset.retrieval_model)
    if dataset.retrieval_model is None and dataset.indexing_technique == "economy":
        return RetrievalSettings(search_method="keyword_search")
    return settings


def _pooled_settings(settings: Sequence[RetrievalSettings]) -> RetrievalSettings:
    """How to cut the pooled chunks of datasets searched with their own settings: the largest TopK,
    no threshold beyond each dataset's own, ordered by score."""
    return RetrievalSettings(top_k=max(s.top_k for s in settings))


def _unavailable_documents(connection: Connection, dataset_id: str) -> set[str]:
    """The documents of the dataset retrieval must not return (usually few or none): disabled,
    archived, or not (yet) completely indexed."""
    return set(connection.scalars(select(Document.id).where(
        Document.dataset_id == dataset_id,
        or_(Document.enabled.is_(False), Document.archived.is_(True), Document.indexing_status != "completed"),
    )))  # fmt: skip


def _load(
    connection: Connection, dataset: Dataset, pieces: dict[str, _Piece], limit: int | None
) -> list[RetrievedChunk]:
    """The chunks of the scored pieces, best first, at most ``limit``: the best segments' rows with
    their documents in one query (one more per batch that disabled segments left short), their
    matched child chunks in one more (parent-child only). Synchronous, for :meth:`Database.read`."""
    best: dict[str, float] = {}
    for piece in pieces.values():
        best[piece.segment_id] = max(best.get(piece.segment_id, 0.0), piece.score)
    ranked = sorted(best, key=lambda segment_id: -best[segment_id])
    batch = len(ranked) if limit is None else limit + _SPARE_ROWS
    chunks: dict[str, RetrievedChunk] = {}
    with Session(connection) as session:
        for start in range(0, len(ranked), max(batch, 1)):
            rows = session.execute(
                select(DocumentSegment, Document).join(Document, Document.id == DocumentSegment.document_id)
                .where(
                    # By primary key only: a dataset_id condition here lets SQLite's planner pick the
                    # dataset index and walk every segment of the dataset.
                    DocumentSegment.id.in_(ranked[start : start + batch]), DocumentSegment.enabled.is_(True),
                    Document.enabled.is_(True), Document.archived.is_(False), Document.indexing_status == "completed",
                )
            ).all()  # fmt: skip
            for segment, document in rows:
                if segment.dataset_id == dataset.id:
                    chunks[segment.id] = RetrievedChunk(dataset.id, dataset.name, best[segment.id], segment, document)
            if limit is None or len(chunks) >= limit:
                break
        children: dict[str | None, ChildChunk] = {}
        if dataset.doc_form == "hierarchical_model" and chunks:
            # By segment (indexed), then to the pieces that matched.
            children = {c.index_node_id: c for c in session.scalars(
                select(ChildChunk).where(ChildChunk.segment_id.in_(list(chunks)))
            ) if c.index_node_id in pieces}  # fmt: skip
    for node_id, child in children.items():
        piece = pieces[node_id or ""]
        hit = ChildChunkHit(child.id, child.content, child.position, piece.score)
        chunks[piece.segment_id].child_chunks.append(hit)
    for chunk in chunks.values():
        chunk.child_chunks.sort(key=lambda c: (-c.score, c.position))
    ordered = sorted(chunks.values(), key=_rank)
    return ordered if limit is None else ordered[:limit]

