"""Finding a workspace's knowledge rows by id, each lookup scoped by the workspace (a dataset of
another workspace is "Dataset not found.", never forbidden), and the small measures every chunk
carries (its length, a token estimate, the hash of its indexed text)."""

from __future__ import annotations

import hashlib
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store import ChildChunk, Dataset, Document, DocumentSegment
from .errors import ChildChunkNotFound, DatasetNotFound, DocumentNotFound, KnowledgeInputError, SegmentNotFound

__all__ = [
    "check_text",
    "child_chunk_of",
    "content_hash",
    "dataset_of",
    "document_of",
    "estimate_tokens",
    "like_pattern",
    "segment_of",
    "word_count",
]


T = TypeVar("T")


async def _one(session: AsyncSession, statement: Select[T], missing: Exception) -> T:
    found = await session.scalar(statement)
    if found is None:
        raise missing
    return found


async def dataset_of(session: AsyncSession, tenant_id: str, dataset_id: str, *, lock: bool = False) -> Dataset:
    """The workspace's dataset ``dataset_id``; :class:`DatasetNotFound` otherwise."""
    statement = select(Dataset).where(Dataset.id == dataset_id, Dataset.tenant_id == tenant_id)
    if lock:
        statement = statement.with_for_update()
    return await _one(session, statement, DatasetNotFound(dataset_id))


async def document_of(session: AsyncSession, dataset: Dataset, document_id: str) -> Document:
    """The dataset's document ``document_id``; :class:`DocumentNotFound` otherwise."""
    statement = select(Document).where(Document.id == document_id, Document.dataset_id == dataset.id)
    return await _one(session, statement, DocumentNotFound(document_id))


async def segment_of(session: AsyncSession, document: Document, segment_id: str) -> DocumentSegment:
    """The document's chunk ``segment_id``; :class:`SegmentNotFound` otherwise."""
    statement = select(DocumentSegment).where(
        DocumentSegment.id == segment_id, DocumentSegment.document_id == document.id
    )
    return await _one(session, statement, SegmentNotFound(segment_id))


async def child_chunk_of(session: AsyncSession, segment: DocumentSegment, child_chunk_id: str) -> ChildChunk:
    """The chunk's child chunk ``child_chunk_id``; :class:`ChildChunkNotFound` otherwise."""
    statement = select(ChildChunk).where(ChildChunk.id == child_chunk_id, ChildChunk.segment_id == segment.id)
    return await _one(session, statement, ChildChunkNotFound(child_chunk_id))


def word_count(*texts: str | None) -> int:
    """A chunk's ``word_count``: its length in characters, as Dify counts it (questions and answers
    together in Q&A mode)."""
    return sum(len(text) for text in texts if text)


def estimate_tokens(*texts: str | None) -> int:
    """A token estimate without a tokenizer: about four characters a token."""
    length = word_count(*texts)
    return (length + 3) // 4


def content_hash(*texts: str | None) -> str:
    """SHA-256 (hex) of the text a chunk is indexed with (``index_node_hash``)."""
    return hashlib.sha256("\n".join(text for text in texts if text).encode("utf-8")).hexdigest()


def like_pattern(keyword: str) -> str:
    """A LIKE pattern matching ``keyword`` anywhere, its wildcards escaped (with ``\\``)."""
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def check_text(value: str, field: str, *, max_length: int | None = None) -> str:
    """``value`` stripped; :class:`KnowledgeInputError` naming ``field`` when it is empty or too long."""
    stripped = value.strip()
    if not stripped:
        raise KnowledgeInputError(f"{field} must not be empty.", field)
    if max_length is not None and len(stripped) > max_length:
        raise KnowledgeInputError(f"{field} must be at most {max_length} characters long.", field)
    return stripped
