"""The indexing pipeline of knowledge base documents (KB-INDEX-HQ, KB-INDEX-ECONOMICAL,
API-DOC-INDEX-STATUS), and the index upkeep of chunk edits.

A document walks ``waiting → parsing → cleaning → splitting → indexing → completed``, each step
committed as it starts, so a client polling the status sees them in that order:

- parsing: the text of the uploaded file, through the doc-extractor plugin (:mod:`.extraction`);
- cleaning and splitting: by the document's process rule (:mod:`.rules`); the chunks are written as
  :class:`~treadle.store.DocumentSegment` rows (and :class:`~treadle.store.ChildChunk` rows in
  parent-child mode) in one transaction, once;
- indexing, in batches: High Quality embeds the pieces not indexed yet (segments, or child chunks in
  parent-child mode) through the :class:`~.embedding.Embedder` and its cache, writes their vectors to
  the dataset's store, then marks them indexed and writes their :class:`~treadle.store.IndexNode` rows
  (the full-text index) in one transaction; Economical writes keywords instead and calls no model.

The pipeline is resumable: a run that stops (crash, pause, shutdown) leaves every finished batch
saved, and the next run goes on from the first piece not marked indexed, its chunks as they were.
A vector written just before a crash is written again under the same id (the piece's
``index_node_id``), and its text comes from the embedding cache, not the model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from treadle_sdk.errors import PluginError

from ..store import (
    ChildChunk,
    Database,
    Dataset,
    DatasetProcessRule,
    Document,
    DocumentSegment,
    IndexNode,
    new_id,
    utcnow,
)
from ..store.locks import held
from .embedding import Embedder, text_hash
from .errors import KnowledgeError, ModelNotConfigured
from .extraction import KnowledgeExtractionError, extract_document
from .keywords import extract_keywords
from .rules import ChunkPlan, ProcessRule, parse_process_rule
from .vectors import VectorStores

if TYPE_CHECKING:
    from ..plugins import PluginSupervisor

__all__ = ["IndexingQueue", "IndexingService", "estimate_tokens"]

log = logging.getLogger(__name__)

#: Statuses of documents the pipeline has nothing more to do for.
_FINISHED = ("completed", "error")
#: Segments given keywords per transaction (Economical indexing calls no model: only the database).
_ECONOMY_BATCH = 200


class IndexingQueue(Protocol):
    """Where indexing jobs go (:class:`treadle.jobs.JobQueue`)."""

    def enqueue_indexing(self, document_ids: Sequence[str]) -> None: ...


def estimate_tokens(text: str) -> int:
    """About how many tokens ``text`` is: a CJK character is one, other text four characters to a
    token (the kernel has no tokenizer; this is what document and chunk ``tokens`` show)."""
    cjk = sum(1 for character in text if "\u3040" <= character <= "\u9fff" or "\uac00" <= character <= "\ud7af")
    return cjk + math.ceil((len(text) - cjk) / 4)


@dataclass(frozen=True, slots=True)
class _Piece:
    """One searchable piece: a segment, or a child chunk (``child_id``) of segment ``segment_id``."""

    node_id: str
    segment_id: str
    document_id: str
    content: str
    child_id: str | None = None


class _Paused(Exception):
    """The document was paused: the run stops where it is."""


class IndexingService:
    """Indexes documents and keeps the index in step with chunk edits, for every dataset of one
    database. ``queue`` receives the jobs :meth:`resume`, :meth:`retry` and :meth:`recover` make;
    without one they only change the documents' state."""

    def __init__(
        self,
        db: Database,
        supervisor: PluginSupervisor,
        vectors: VectorStores,
        embedder: Embedder,
        queue: IndexingQueue | None = None,
    ) -> None:
        self.db = db
        self.supervisor = supervisor
        self.vectors = vectors
        self.embedder = embedder
        self.queue = queue
        self._running: set[str] = set()

    # -- the pipeline --------------------------------------------------------------------------------

    async def run_document(self, document_id: str) -> None:
        """Index one document, from the step it had reached. Does nothing for a document that is
        gone, paused, completed or failed, or that this or another process is indexing already
        (:func:`treadle.store.locks.held`). Failures are
        recorded on the document (``indexing_status = "error"``, ``error``, ``stopped_at``)."""
        if document_id in self._running:
            return
        self._running.add(document_id)
        try:
            # Another process (a worker of `serve --workers`, or one that queued it again at its
            # startup) may be indexing it: then it is theirs (the lock dies with its holder).
            async with held(self.db, "indexing", document_id) as mine:
                if not mine:
                    log.info("document %s is being indexed by another process", document_id)
                    return
                await self._run(document_id)
        finally:
            self._running.discard(document_id)

    async def _run(self, document_id: str) -> None:
        async with self.db.session() as session:
            document = await session.get(Document, document_id)
            if document is None or document.is_paused or document.indexing_status in _FINISHED:
                return
            dataset = await session.get(Dataset, document.dataset_id)
            rule_row = (
                await session.get(DatasetProcessRule, document.dataset_process_rule_id)
                if document.dataset_process_rule_id
                else None
            )
            document.indexing_attempts += 1
            if document.processing_started_at is None:
                document.processing_started_at = utcnow()
        assert dataset is not None  # the foreign key cascades
        try:
            if document.splitting_completed_at is None:
                raw_rule = {"mode": rule_row.mode, "rules": rule_row.rules} if rule_row is not None else None
                rule = parse_process_rule(raw_rule, document.doc_form)
                await self._prepare(document, rule)
            else:
                await self._step(document.id, indexing_status="indexing")
            if dataset.indexing_technique == "economy":
                await self._index_economy(document)
            else:
                await self._index_high_quality(dataset, document)
            await self._complete(document)
        except _Paused:
            log.info("indexing of document %s paused", document_id)
        except (KnowledgeError, KnowledgeExtractionError, PluginError) as exc:
            await self._fail(document_id, exc.message)
        except Exception as exc:
            log.exception("indexing document %s failed", document_id)
            await self._fail(document_id, f"Indexing failed: {type(exc).__name__}: {exc}")

    async def _prepare(self, document: Document, rule: ProcessRule) -> None:
        """Parsing, cleaning and splitting: the document's chunks, written once."""
        await self._step(document.id, indexing_status="parsing")
        if not document.upload_file_id:
            raise KnowledgeError(f"Document {document.id} has no file to read its text from.")
        extracted = await extract_document(self.supervisor, document.tenant_id, document.upload_file_id)
        await self._step(document.id, indexing_status="cleaning", parsing_completed_at=utcnow())
        text = rule.clean(extracted.text)
        await self._step(document.id, indexing_status="splitting", cleaning_completed_at=utcnow())
        plans = rule.split(text)
        await self._write_chunks(document, plans)

    async def _write_chunks(self, document: Document, plans: list[ChunkPlan]) -> None:
        async with self.db.session() as session:
            found = await session.scalar(
                select(func.count()).select_from(DocumentSegment).where(DocumentSegment.document_id == document.id)
            )
            # Chunks written by an attempt that stopped before its status was saved are kept as they are.
            if not found:
                await _add_chunks(session, document, plans)
            await session.execute(
                update(Document)
                .where(Document.id == document.id)
                .values(splitting_completed_at=utcnow(), indexing_status="indexing")
            )
        await self._step(document.id)

    async def _index_high_quality(self, dataset: Dataset, document: Document) -> None:
        if not dataset.embedding_model or not dataset.embedding_model_provider:
            raise ModelNotConfigured(
                f"Dataset {dataset.id} has no embedding model: set embedding_model and embedding_model_provider."
            )
        parent_child = document.doc_form == "hierarchical_model"
        while True:
            await self._step(document.id)
            pieces = await self._pending(document.id, parent_child, self.embedder.batch_size)
            if not pieces:
                return
            await self._index_pieces(dataset, pieces)

    async def _pending(self, document_id: str, parent_child: bool, limit: int) -> list[_Piece]:
        """The next ``limit`` pieces of the document not indexed yet, in document order."""
        async with self.db.session() as session:
            if parent_child:
                rows = await session.execute(
                    select(ChildChunk.id, ChildChunk.index_node_id, ChildChunk.segment_id, ChildChunk.content)
                    .join(DocumentSegment, DocumentSegment.id == ChildChunk.segment_id)
                    .where(ChildChunk.document_id == document_id, ChildChunk.indexed.is_(False),
                           DocumentSegment.enabled.is_(True))
                    .order_by(DocumentSegment.position, ChildChunk.position)
                    .limit(limit)
                )  # fmt: skip
                return [_Piece(node or child, segment, document_id, text, child) for child, node, segment, text in rows]
            segments = await session.execute(
                select(DocumentSegment.id, DocumentSegment.index_node_id, DocumentSegment.content)
                .where(DocumentSegment.document_id == document_id, DocumentSegment.status != "completed",
                       DocumentSegment.enabled.is_(True))
                .order_by(DocumentSegment.position)
                .limit(limit)
            )  # fmt: skip
            return [_Piece(node or segment, segment, document_id, text) for segment, node, text in segments]

    async def _index_pieces(self, dataset: Dataset, pieces: Sequence[_Piece]) -> None:
        """Embed, store the vectors, then mark the pieces indexed with their full-text rows."""
        assert dataset.embedding_model_provider and dataset.embedding_model
        vectors = await self.embedder.embed(
            dataset.tenant_id, dataset.embedding_model_provider, dataset.embedding_model,
            [piece.content for piece in pieces], input_type="document",
        )  # fmt: skip
        await self._ensure_collection(dataset, len(vectors[0]))
        records = [
            {"id": piece.node_id, "vector": vector, "text": piece.content,
             "metadata": {"dataset_id": dataset.id, "document_id": piece.document_id, "segment_id": piece.segment_id}}
            for piece, vector in zip(pieces, vectors, strict=True)
        ]  # fmt: skip
        await self.vectors.upsert(dataset, records)
        async with self.db.session() as session:
            await self._mark_indexed(session, dataset, pieces)

    async def _mark_indexed(self, session: AsyncSession, dataset: Dataset, pieces: Sequence[_Piece]) -> None:
        now = utcnow()
        await _replace_index_nodes(session, dataset, [(piece, "") for piece in pieces])
        children = [piece.child_id for piece in pieces if piece.child_id]
        segments = {piece.segment_id for piece in pieces}
        if children:
            await session.execute(update(ChildChunk).where(ChildChunk.id.in_(children)).values(indexed=True))
            # A parent is indexed once all of its children are.
            unindexed = exists().where(ChildChunk.segment_id == DocumentSegment.id, ChildChunk.indexed.is_(False))
            await session.execute(
                update(DocumentSegment)
                .where(DocumentSegment.id.in_(segments), ~unindexed)
                .values(status="completed", completed_at=now, error=None)
                .execution_options(synchronize_session=False)
            )
        else:
            await session.execute(
                update(DocumentSegment)
                .where(DocumentSegment.id.in_(segments))
                .values(status="completed", completed_at=now, error=None)
            )

    async def _ensure_collection(self, dataset: Dataset, dimension: int) -> None:
        before = (dataset.vector_store, dataset.vector_collection, dataset.vector_dimension)
        await self.vectors.ensure_collection(dataset, dimension)
        after = (dataset.vector_store, dataset.vector_collection, dataset.vector_dimension)
        if after != before:
            async with self.db.session() as session:
                await session.execute(
                    update(Dataset)
                    .where(Dataset.id == dataset.id)
                    .values(vector_store=after[0], vector_collection=after[1], vector_dimension=after[2])
                )

    async def _index_economy(self, document: Document) -> None:
        """KB-INDEX-ECONOMICAL: each segment's keywords (kept when set by hand), no model."""
        while True:
            await self._step(document.id)
            async with self.db.session() as session:
                segments = list(
                    await session.scalars(
                        select(DocumentSegment)
                        .where(DocumentSegment.document_id == document.id, DocumentSegment.status != "completed",
                               DocumentSegment.enabled.is_(True))
                        .order_by(DocumentSegment.position)
                        .limit(_ECONOMY_BATCH)
                    )
                )  # fmt: skip
                if not segments:
                    return
                await _index_keywords(session, segments)

    async def _complete(self, document: Document) -> None:
        async with self.db.session() as session:
            if document.doc_form == "hierarchical_model":
                # Parents without children (none come from splitting; a hand edit may leave one) are done too.
                unindexed = exists().where(ChildChunk.segment_id == DocumentSegment.id, ChildChunk.indexed.is_(False))
                await session.execute(
                    update(DocumentSegment)
                    .where(DocumentSegment.document_id == document.id, DocumentSegment.enabled.is_(True),
                           DocumentSegment.status != "completed", ~unindexed)
                    .values(status="completed", completed_at=utcnow())
                    .execution_options(synchronize_session=False)
                )  # fmt: skip
            words, tokens = (
                await session.execute(
                    select(func.coalesce(func.sum(DocumentSegment.word_count), 0),
                           func.coalesce(func.sum(DocumentSegment.tokens), 0))
                    .where(DocumentSegment.document_id == document.id)
                )
            ).one()  # fmt: skip
            row = await session.get(Document, document.id)
            if row is None:
                return
            now = utcnow()
            row.indexing_status = "completed"
            row.completed_at = now
            row.word_count = int(words)
            row.tokens = int(tokens)
            row.error = None
            row.stopped_at = None
            started = row.processing_started_at or now
            row.indexing_latency = max(0.0, (now - started).total_seconds())

    async def _step(self, document_id: str, **values: Any) -> None:
        """Save ``values`` on the document (a step starting) unless it was paused meanwhile; raise
        :class:`_Paused` if it was."""
        async with self.db.session() as session:
            if values:
                done = await session.execute(
                    update(Document).where(Document.id == document_id, Document.is_paused.is_(False)).values(**values)
                )
                changed = bool(done.rowcount)  # type: ignore[attr-defined]
            else:
                paused = await session.scalar(select(Document.is_paused).where(Document.id == document_id))
                changed = paused is False
        if not changed:
            raise _Paused(document_id)

    async def _fail(self, document_id: str, message: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(indexing_status="error", error=message, stopped_at=utcnow())
            )

    # -- chunk edits from the API ----------------------------------------------------------------------

    async def index_segments(self, segment_ids: Iterable[str]) -> None:
        """Bring the index of these segments in line with their rows, after an edit, an enable or a
        new chunk: their text (or their child chunks') is indexed again under their node ids, nodes
        they no longer have are removed, and a disabled segment (or one of a disabled or archived
        document) is taken out of the index. Unchanged text is embedded from the cache, at no cost."""
        ids = list(dict.fromkeys(segment_ids))
        if not ids:
            return
        async with self.db.session() as session:
            segments = list(await session.scalars(select(DocumentSegment).where(DocumentSegment.id.in_(ids))))
            documents = {d.id: d for d in await session.scalars(
                select(Document).where(Document.id.in_({s.document_id for s in segments})))}
            datasets = {d.id: d for d in await session.scalars(
                select(Dataset).where(Dataset.id.in_({s.dataset_id for s in segments})))}
            children = list(await session.scalars(
                select(ChildChunk).where(ChildChunk.segment_id.in_(ids)).order_by(ChildChunk.position)))
            # Give every piece its node id and its text's hash before anything is indexed.
            for segment in segments:
                segment.index_node_id = segment.index_node_id or new_id()
                segment.index_node_hash = text_hash(segment.content)
            for child in children:
                child.index_node_id = child.index_node_id or new_id()
                child.index_node_hash = text_hash(child.content)
        by_segment: dict[str, list[ChildChunk]] = {}
        for child in children:
            by_segment.setdefault(child.segment_id, []).append(child)
        removed: list[DocumentSegment] = []
        for segment in segments:
            document, dataset = documents[segment.document_id], datasets[segment.dataset_id]
            if not (segment.enabled and document.enabled and not document.archived):
                removed.append(segment)
                continue
            wanted = _pieces_of(segment, by_segment.get(segment.id, []), document.doc_form)
            await self._drop_stale_nodes(dataset, segment.id, {piece.node_id for piece in wanted})
            if dataset.indexing_technique == "economy":
                async with self.db.session() as session:
                    row = await session.get(DocumentSegment, segment.id)
                    if row is not None:
                        await _index_keywords(session, [row])
                continue
            if not dataset.embedding_model or not dataset.embedding_model_provider:
                raise ModelNotConfigured(
                    f"Dataset {dataset.id} has no embedding model: set embedding_model and embedding_model_provider."
                )
            for start in range(0, len(wanted), self.embedder.batch_size):
                await self._index_pieces(dataset, wanted[start : start + self.embedder.batch_size])
            async with self.db.session() as session:
                await session.execute(
                    update(DocumentSegment)
                    .where(DocumentSegment.id == segment.id)
                    .values(status="completed", completed_at=utcnow(), error=None)
                )
        if removed:
            await self.remove_segments([segment.id for segment in removed])

    async def remove_segments(self, segment_ids: Iterable[str]) -> None:
        """Take these segments (and their child chunks) out of the index: vectors and full-text rows.
        The rows of the segments stay; call this before deleting them, while they can be found."""
        ids = list(dict.fromkeys(segment_ids))
        if not ids:
            return
        async with self.db.session() as session:
            found: list[tuple[str, str | None]] = []
            for query in (
                select(DocumentSegment.dataset_id, DocumentSegment.index_node_id).where(DocumentSegment.id.in_(ids)),
                select(ChildChunk.dataset_id, ChildChunk.index_node_id).where(ChildChunk.segment_id.in_(ids)),
                select(IndexNode.dataset_id, IndexNode.node_id).where(IndexNode.segment_id.in_(ids)),
            ):
                found += [(dataset_id, node_id) for dataset_id, node_id in await session.execute(query)]
            datasets = {d.id: d for d in await session.scalars(
                select(Dataset).where(Dataset.id.in_({dataset_id for dataset_id, _ in found})))}
        nodes: dict[str, set[str]] = {}
        for dataset_id, node_id in found:
            if node_id:
                nodes.setdefault(dataset_id, set()).add(node_id)
        for dataset_id, node_ids in nodes.items():
            await self.vectors.delete(datasets[dataset_id], sorted(node_ids))
        async with self.db.session() as session:
            await session.execute(delete(IndexNode).where(IndexNode.segment_id.in_(ids)))
            await session.execute(update(ChildChunk).where(ChildChunk.segment_id.in_(ids)).values(indexed=False))

    async def _drop_stale_nodes(self, dataset: Dataset, segment_id: str, keep: set[str]) -> None:
        """Remove the index nodes of a segment that it no longer has (child chunks regenerated or deleted)."""
        async with self.db.session() as session:
            stale = [node for node in await session.scalars(
                select(IndexNode.node_id).where(IndexNode.segment_id == segment_id)) if node not in keep]
            if stale:
                await session.execute(delete(IndexNode).where(IndexNode.node_id.in_(stale)))
        await self.vectors.delete(dataset, stale)

    async def remove_document(self, document: Document) -> None:
        """Take a document out of the index (before deleting it, or when it is disabled or archived)."""
        async with self.db.session() as session:
            dataset = await session.get(Dataset, document.dataset_id)
            await session.execute(delete(IndexNode).where(IndexNode.document_id == document.id))
        if dataset is not None:
            await self.vectors.delete_document(dataset, document.id)

    # -- pause, resume, retry, recovery ------------------------------------------------------------------

    async def pause(self, document_id: str, paused_by: str | None = None) -> None:
        """Hold the document where it is; a run under way stops after its current batch."""
        async with self.db.session() as session:
            await session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(is_paused=True, paused_at=utcnow(), paused_by=paused_by)
            )

    async def resume(self, document_id: str) -> None:
        """Carry on with a paused document from where it stopped."""
        async with self.db.session() as session:
            await session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(is_paused=False, paused_at=None, paused_by=None)
            )
        self._enqueue([document_id])

    async def retry(self, document_ids: Iterable[str]) -> None:
        """Index again the documents that failed (or stopped): from the step where they stopped, the
        chunks already made and the pieces already indexed kept."""
        ids = list(dict.fromkeys(document_ids))
        if not ids:
            return
        async with self.db.session() as session:
            await session.execute(
                update(Document)
                .where(Document.id.in_(ids), Document.indexing_status != "completed")
                .values(indexing_status="waiting", error=None, stopped_at=None, is_paused=False, paused_at=None)
            )
        self._enqueue(ids)

    async def recover(self) -> list[str]:
        """Queue again every document whose indexing was under way or waiting and is not paused (at
        startup: an in-memory queue died with the process that held it); their ids."""
        async with self.db.session() as session:
            ids = list(
                await session.scalars(
                    select(Document.id)
                    .where(Document.indexing_status.not_in(_FINISHED), Document.is_paused.is_(False))
                    .order_by(Document.created_at, Document.position)
                )
            )
        self._enqueue(ids)
        return ids

    def _enqueue(self, document_ids: list[str]) -> None:
        if self.queue is not None and document_ids:
            self.queue.enqueue_indexing(document_ids)


# -- rows -----------------------------------------------------------------------------------------------


async def _add_chunks(session: AsyncSession, document: Document, plans: list[ChunkPlan]) -> None:
    now = utcnow()
    segments: list[DocumentSegment] = []
    for position, plan in enumerate(plans, start=1):
        segments.append(DocumentSegment(
            id=new_id(), tenant_id=document.tenant_id, dataset_id=document.dataset_id, document_id=document.id,
            position=position, content=plan.content, word_count=len(plan.content),
            tokens=estimate_tokens(plan.content), index_node_id=new_id(), index_node_hash=text_hash(plan.content),
            status="waiting", indexing_at=now, created_by=document.created_by,
        ))  # fmt: skip
    session.add_all(segments)
    # The rows have no ORM relationship, so the parents go in first, in a flush of their own.
    await session.flush()
    session.add_all(
        ChildChunk(
            id=new_id(), tenant_id=document.tenant_id, dataset_id=document.dataset_id, document_id=document.id,
            segment_id=segment.id, position=child_position, content=child, word_count=len(child),
            index_node_id=new_id(), index_node_hash=text_hash(child), type="automatic", indexed=False,
            created_by=document.created_by,
        )
        for segment, plan in zip(segments, plans, strict=True)
        for child_position, child in enumerate(plan.children, start=1)
    )


def _pieces_of(segment: DocumentSegment, children: list[ChildChunk], doc_form: str) -> list[_Piece]:
    if doc_form == "hierarchical_model":
        return [
            _Piece(child.index_node_id or child.id, segment.id, segment.document_id, child.content, child.id)
            for child in children
        ]
    return [_Piece(segment.index_node_id or segment.id, segment.id, segment.document_id, segment.content)]


async def _replace_index_nodes(session: AsyncSession, dataset: Dataset, nodes: Sequence[tuple[_Piece, str]]) -> None:
    """Write the full-text rows of ``nodes`` (piece, keywords), replacing any of the same node ids."""
    await session.execute(delete(IndexNode).where(IndexNode.node_id.in_([piece.node_id for piece, _ in nodes])))
    session.add_all(
        IndexNode(
            node_id=piece.node_id, tenant_id=dataset.tenant_id, dataset_id=dataset.id, document_id=piece.document_id,
            segment_id=piece.segment_id, content=piece.content, keywords=keywords,
        )
        for piece, keywords in nodes
    )


async def _index_keywords(session: AsyncSession, segments: list[DocumentSegment]) -> None:
    """Economical indexing of ``segments`` (rows of ``session``): keywords and full-text rows."""
    now = utcnow()
    nodes: list[tuple[_Piece, str]] = []
    dataset = await session.get(Dataset, segments[0].dataset_id)
    assert dataset is not None
    for segment in segments:
        keywords = list(segment.keywords or []) or extract_keywords(segment.content)
        segment.keywords = keywords
        segment.index_node_id = segment.index_node_id or new_id()
        segment.index_node_hash = text_hash(segment.content)
        segment.status = "completed"
        segment.completed_at = now
        piece = _Piece(segment.index_node_id, segment.id, segment.document_id, segment.content)
        nodes.append((piece, " ".join(keywords)))
    await _replace_index_nodes(session, dataset, nodes)
