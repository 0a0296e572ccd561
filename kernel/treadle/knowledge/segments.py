"""Chunks (segments) and child chunks of a document, added, listed, edited, switched on and off and
deleted by hand (API-CHUNK-*, API-CHILD-*, KB-CHUNK-EDIT).

Rows change here; the index follows through the indexing pipeline: a changed chunk is taken out of
the index and indexed again (its embedding comes from the cache when its text did not change), a
disabled or deleted one is taken out. Chunks can be added to and edited in a document only once it
is indexed and while it is enabled, as in Dify.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from ..store import ChildChunk, Dataset, DatasetProcessRule, Document, DocumentSegment, paginate
from ..store import utcnow as now
from .errors import KnowledgeInputError, KnowledgeNotFound
from .lookup import (
    child_chunk_of,
    content_hash,
    dataset_of,
    document_of,
    estimate_tokens,
    like_pattern,
    segment_of,
    word_count,
)
from .ports import Caller
from .rules import parse_process_rule
from .views import child_chunk_view, segment_view

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .datasets import KnowledgeBases

__all__ = ["KnowledgeSegments"]


def _check_ready(document: Document) -> None:
    """A document whose chunks may be added or edited: indexed and enabled (404 otherwise, as Dify)."""
    if document.indexing_status != "completed":
        raise KnowledgeNotFound("Document is not completed.")
    if not document.enabled:
        raise KnowledgeNotFound("Document is disabled.")


def _content(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeInputError(f"{field} must not be empty.", field)
    return value


class KnowledgeSegments:
    """Chunk operations of :class:`~treadle.knowledge.datasets.KnowledgeBases`."""

    def __init__(self, bases: KnowledgeBases) -> None:
        self.bases = bases

    async def _open(self, session: AsyncSession, caller: Caller, dataset_id: str,
                    document_id: str) -> tuple[Dataset, Document]:
        dataset = await dataset_of(session, caller.tenant_id, dataset_id)
        return dataset, await document_of(session, dataset, document_id)

    async def _children(self, session: AsyncSession, segment_ids: Sequence[str]) -> dict[str, list[ChildChunk]]:
        found: dict[str, list[ChildChunk]] = {segment_id: [] for segment_id in segment_ids}
        if segment_ids:
            for child in await session.scalars(
                select(ChildChunk).where(ChildChunk.segment_id.in_(list(segment_ids)))
                .order_by(ChildChunk.position, ChildChunk.id)
            ):
                found[child.segment_id].append(child)
        return found

    async def _view(self, session: AsyncSession, segment: DocumentSegment) -> dict[str, Any]:
        return segment_view(segment, (await self._children(session, [segment.id]))[segment.id])

    async def _child_texts(self, session: AsyncSession, document: Document, content: str) -> list[str]:
        """The child chunks the document's rule cuts ``content`` into (parent-child documents)."""
        raw = None
        if document.dataset_process_rule_id:
            rule = await session.get(DatasetProcessRule, document.dataset_process_rule_id)
            if rule is not None:
                raw = {"mode": rule.mode, "rules": rule.rules}
        plans = parse_process_rule(raw, document.doc_form).split(content)
        return [child for plan in plans for child in plan.children] or [content]

    def _add_children(self, session: AsyncSession, caller: Caller, segment: DocumentSegment,
                      texts: Sequence[str], *, kind: str = "automatic", start: int = 1) -> None:
        for offset, text in enumerate(texts):
            session.add(ChildChunk(
                tenant_id=segment.tenant_id, dataset_id=segment.dataset_id, document_id=segment.document_id,
                segment_id=segment.id, position=start + offset, content=text, word_count=word_count(text),
                index_node_id=str(uuid.uuid4()), index_node_hash=content_hash(text), type=kind,
                created_by=caller.account_id,
            ))

    async def _reindex(self, segment_ids: Sequence[str]) -> None:
        """Take chunks out of the index and index them again as they now are."""
        indexing = self.bases.indexing
        if indexing is None or not segment_ids:
            return
        await indexing.remove_segments(list(segment_ids))
        await indexing.index_segments(list(segment_ids))

    @staticmethod
    async def _mark_stale(session: AsyncSession, segment_ids: Sequence[str]) -> None:
        """Chunks to be indexed again: waiting, with their child chunks not indexed."""
        await session.execute(update(DocumentSegment).where(DocumentSegment.id.in_(list(segment_ids))).values(
            status="waiting", completed_at=None, error=None
        ))
        await session.execute(update(ChildChunk).where(ChildChunk.segment_id.in_(list(segment_ids))).values(
            indexed=False
        ))

    async def _add_words(self, session: AsyncSession, document: Document, delta: int) -> None:
        await session.execute(update(Document).where(Document.id == document.id).values(
            word_count=func.max(Document.word_count + delta, 0) if self.bases.db.dialect == "sqlite"
            else func.greatest(Document.word_count + delta, 0)
        ))

    # -- chunks --------------------------------------------------------------------------------------

    async def create(
        self, caller: Caller, dataset_id: str, document_id: str, segments: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Add chunks at the end of a document (API-CHUNK-CREATE): ``{data, doc_form}``."""
        if not segments:
            raise KnowledgeInputError("segments must hold at least one chunk.", "segments")
        async with self.bases.db.session() as session:
            dataset, document = await self._open(session, caller, dataset_id, document_id)
            _check_ready(document)
            qa = document.doc_form == "qa_model"
            last = await session.scalar(
                select(func.coalesce(func.max(DocumentSegment.position), 0))
                .where(DocumentSegment.document_id == document.id)
            )
            made: list[DocumentSegment] = []
            added_words = 0
            for index, item in enumerate(segments):
                content = _content(item.get("content"), f"segments[{index}].content")
                answer = item.get("answer")
                if qa:
                    answer = _content(answer, f"segments[{index}].answer")
                else:
                    answer = None
                segment = DocumentSegment(
                    tenant_id=caller.tenant_id, dataset_id=dataset.id, document_id=document.id,
                    position=(last or 0) + index + 1, content=content, answer=answer,
                    word_count=word_count(content, answer), tokens=estimate_tokens(content, answer),
                    keywords=[str(k) for k in item.get("keywords") or []], index_node_id=str(uuid.uuid4()),
                    index_node_hash=content_hash(content, answer), status="waiting", created_by=caller.account_id,
                )  # fmt: skip
                session.add(segment)
                await session.flush()
                if document.doc_form == "hierarchical_model":
                    self._add_children(session, caller, segment, await self._child_texts(session, document, content))
                made.append(segment)
                added_words += segment.word_count
            await self._add_words(session, document, added_words)
            ids = [segment.id for segment in made]
        await self._reindex_new(ids)
        async with self.bases.db.session() as session:
            rows = list(await session.scalars(
                select(DocumentSegment).where(DocumentSegment.id.in_(ids)).order_by(DocumentSegment.position)
            ))
            children = await self._children(session, ids)
        return {"data": [segment_view(row, children[row.id]) for row in rows], "doc_form": document.doc_form}

    async def _reindex_new(self, segment_ids: Sequence[str]) -> None:
        if self.bases.indexing is not None and segment_ids:
            await self.bases.indexing.index_segments(list(segment_ids))

    async def list_segments(
        self, caller: Caller, dataset_id: str, document_id: str, *, page: int = 1, limit: int = 20,
        status: Sequence[str] = (), keyword: str = "", enabled: bool | None = None,
    ) -> dict[str, Any]:
        """A page of a document's chunks in order (API-CHUNK-LIST)."""
        async with self.bases.db.session() as session:
            _, document = await self._open(session, caller, dataset_id, document_id)
            statement = select(DocumentSegment).where(DocumentSegment.document_id == document.id)
            if status:
                statement = statement.where(DocumentSegment.status.in_(list(status)))
            if keyword.strip():
                statement = statement.where(DocumentSegment.content.like(like_pattern(keyword.strip()), escape="\\"))
            if enabled is not None:
                statement = statement.where(DocumentSegment.enabled.is_(enabled))
            found = await paginate(session, statement.order_by(DocumentSegment.position), page=page, limit=limit)
            children = await self._children(session, [segment.id for segment in found.data])
        return {
            "data": [segment_view(segment, children[segment.id]) for segment in found.data],
            "doc_form": document.doc_form, "total": found.total, "has_more": found.has_more,
            "limit": found.limit, "page": found.page,
        }  # fmt: skip

    async def get(self, caller: Caller, dataset_id: str, document_id: str, segment_id: str) -> dict[str, Any]:
        """A chunk with its child chunks (API-CHUNK-GET): ``{data, doc_form}``."""
        async with self.bases.db.session() as session:
            _, document = await self._open(session, caller, dataset_id, document_id)
            segment = await segment_of(session, document, segment_id)
            return {"data": await self._view(session, segment), "doc_form": document.doc_form}

    async def update(
        self, caller: Caller, dataset_id: str, document_id: str, segment_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit a chunk, or switch it on or off (API-CHUNK-UPDATE): ``{data, doc_form}``. An edited
        chunk is indexed again; with ``regenerate_child_chunks`` its child chunks are cut anew."""
        removed = False
        async with self.bases.db.session() as session:
            _, document = await self._open(session, caller, dataset_id, document_id)
            _check_ready(document)
            segment = await segment_of(session, document, segment_id)
            enabled = changes.get("enabled")
            if enabled is False:
                if segment.enabled:
                    segment.enabled, segment.disabled_at, segment.disabled_by = False, now(), caller.account_id
                    removed = True
                stale = False
            else:
                if not segment.enabled and enabled is not True:
                    raise KnowledgeInputError("Can't update disabled segment.", "segment.enabled")
                stale = not segment.enabled
                segment.enabled, segment.disabled_at, segment.disabled_by = True, None, None
                stale = await self._apply_edit(session, caller, document, segment, changes) or stale
            segment.updated_by = caller.account_id
            if stale:
                await session.flush()
                await self._mark_stale(session, [segment.id])
        if removed and self.bases.indexing is not None:
            await self.bases.indexing.remove_segments([segment_id])
        elif stale:
            await self._reindex([segment_id])
        async with self.bases.db.session() as session:
            segment = await segment_of(session, document, segment_id)
            return {"data": await self._view(session, segment), "doc_form": document.doc_form}

    async def _apply_edit(self, session: AsyncSession, caller: Caller, document: Document,
                          segment: DocumentSegment, changes: Mapping[str, Any]) -> bool:
        """Apply content, answer and keyword changes; whether the chunk must be indexed again."""
        content = segment.content
        if changes.get("content") is not None:
            content = _content(changes["content"], "segment.content")
        answer = segment.answer
        if document.doc_form == "qa_model" and changes.get("answer") is not None:
            answer = _content(changes["answer"], "segment.answer")
        stale = False
        if content != segment.content or answer != segment.answer:
            before = segment.word_count
            segment.content, segment.answer = content, answer
            segment.word_count = word_count(content, answer)
            segment.tokens = estimate_tokens(content, answer)
            segment.index_node_hash = content_hash(content, answer)
            await self._add_words(session, document, segment.word_count - before)
            stale = True
        if changes.get("keywords") is not None:
            keywords = [str(k) for k in changes["keywords"]]
            if keywords != list(segment.keywords or []):
                segment.keywords = keywords
                stale = True
        if document.doc_form == "hierarchical_model" and changes.get("regenerate_child_chunks"):
            await session.execute(delete(ChildChunk).where(ChildChunk.segment_id == segment.id))
            self._add_children(session, caller, segment, await self._child_texts(session, document, content))
            stale = True
        if changes.get("summary") is not None:
            segment.summary = str(changes["summary"])
        return stale

    async def delete(self, caller: Caller, dataset_id: str, document_id: str, segment_id: str) -> None:
        """Delete a chunk and its index entries (API-CHUNK-DELETE)."""
        async with self.bases.db.session() as session:
            _, document = await self._open(session, caller, dataset_id, document_id)
            segment = await segment_of(session, document, segment_id)
        if self.bases.indexing is not None:
            await self.bases.indexing.remove_segments([segment.id])
        async with self.bases.db.session() as session:
            await session.execute(delete(DocumentSegment).where(DocumentSegment.id == segment.id))
            await self._add_words(session, document, -segment.word_count)

    # -- child chunks --------------------------------------------------------------------------------

    async def _parent(self, session: AsyncSession, caller: Caller, dataset_id: str, document_id: str,
                      segment_id: str) -> tuple[Document, DocumentSegment]:
        _, document = await self._open(session, caller, dataset_id, document_id)
        segment = await segment_of(session, document, segment_id)
        return document, segment

    @staticmethod
    def _check_hierarchical(document: Document) -> None:
        if document.doc_form != "hierarchical_model":
            raise KnowledgeInputError(
                f"Child chunks exist only in hierarchical_model documents; this one is {document.doc_form}.",
                "segment_id",
            )

    async def create_child(self, caller: Caller, dataset_id: str, document_id: str, segment_id: str,
                           content: str) -> dict[str, Any]:
        """Add a child chunk at the end of a chunk (API-CHILD-CREATE): ``{data}``."""
        content = _content(content, "content")
        async with self.bases.db.session() as session:
            document, segment = await self._parent(session, caller, dataset_id, document_id, segment_id)
            self._check_hierarchical(document)
            _check_ready(document)
            last = await session.scalar(
                select(func.coalesce(func.max(ChildChunk.position), 0)).where(ChildChunk.segment_id == segment.id)
            )
            child = ChildChunk(
                tenant_id=segment.tenant_id, dataset_id=segment.dataset_id, document_id=segment.document_id,
                segment_id=segment.id, position=(last or 0) + 1, content=content, word_count=word_count(content),
                index_node_id=str(uuid.uuid4()), index_node_hash=content_hash(content), type="custom",
                created_by=caller.account_id,
            )  # fmt: skip
            session.add(child)
            await session.flush()
            child_id = child.id
            await self._mark_stale(session, [segment.id])
        await self._reindex([segment_id])
        async with self.bases.db.session() as session:
            return {"data": child_chunk_view(await child_chunk_of(session, segment, child_id))}

    async def list_children(
        self, caller: Caller, dataset_id: str, document_id: str, segment_id: str, *, page: int = 1,
        limit: int = 20, keyword: str = "",
    ) -> dict[str, Any]:
        """A page of a chunk's child chunks (API-CHILD-LIST): ``{data, total, total_pages, page, limit}``."""
        async with self.bases.db.session() as session:
            _, segment = await self._parent(session, caller, dataset_id, document_id, segment_id)
            statement = select(ChildChunk).where(ChildChunk.segment_id == segment.id)
            if keyword.strip():
                statement = statement.where(ChildChunk.content.like(like_pattern(keyword.strip()), escape="\\"))
            found = await paginate(session, statement.order_by(ChildChunk.position, ChildChunk.id), page=page,
                                   limit=limit)
        return {
            "data": [child_chunk_view(child) for child in found.data], "total": found.total,
            "total_pages": math.ceil(found.total / found.limit) if found.total else 0,
            "page": found.page, "limit": found.limit,
        }  # fmt: skip

    async def update_child(self, caller: Caller, dataset_id: str, document_id: str, segment_id: str,
                           child_chunk_id: str, content: str) -> dict[str, Any]:
        """Change a child chunk's text (API-CHILD-UPDATE): ``{data}``; it is indexed again."""
        content = _content(content, "content")
        async with self.bases.db.session() as session:
            document, segment = await self._parent(session, caller, dataset_id, document_id, segment_id)
            self._check_hierarchical(document)
            _check_ready(document)
            child = await child_chunk_of(session, segment, child_chunk_id)
            changed = child.content != content
            if changed:
                child.content, child.word_count = content, word_count(content)
                child.index_node_hash, child.type, child.updated_by = content_hash(content), "custom", caller.account_id
                await session.flush()
                await self._mark_stale(session, [segment.id])
        if changed:
            await self._reindex([segment_id])
        async with self.bases.db.session() as session:
            return {"data": child_chunk_view(await child_chunk_of(session, segment, child_chunk_id))}

    async def delete_child(self, caller: Caller, dataset_id: str, document_id: str, segment_id: str,
                           child_chunk_id: str) -> None:
        """Delete a child chunk (API-CHILD-DELETE); its chunk is indexed again without it."""
        async with self.bases.db.session() as session:
            document, segment = await self._parent(session, caller, dataset_id, document_id, segment_id)
            self._check_hierarchical(document)
            child = await child_chunk_of(session, segment, child_chunk_id)
        if self.bases.indexing is not None:
            await self.bases.indexing.remove_segments([segment.id])
        async with self.bases.db.session() as session:
            await session.execute(delete(ChildChunk).where(ChildChunk.id == child.id))
            await self._mark_stale(session, [segment.id])
        if self.bases.indexing is not None:
            await self.bases.indexing.index_segments([segment.id])
