"""What the knowledge-base operations (:mod:`treadle.knowledge.datasets`) need from the indexing
pipeline, the job queue, the vector stores and the retriever: small protocols, so that the
operations on rows work (and are tested) on their own, and the real services plug in where the
server builds them (:mod:`treadle.knowledge.runtime`).

A missing port is a server that does not index: documents stay ``waiting`` and chunk edits change
rows only. Nothing here imports the services themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..store import Dataset, Document

__all__ = [
    "Caller",
    "IndexingPort",
    "JobPort",
    "RetrieverPort",
    "VectorPort",
    "settle",
]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the workspace a knowledge key opens, and the account its records are made by (the
    workspace's owner, as Dify does for knowledge keys)."""

    tenant_id: str
    account_id: str | None = None


class IndexingPort(Protocol):
    """The part of :class:`~treadle.knowledge.indexing.IndexingService` the API calls."""

    async def index_segments(self, segment_ids: Sequence[str]) -> Any:
        """(Re-)index these chunks: their text, or their child chunks not yet indexed."""
        ...

    async def remove_segments(self, segment_ids: Sequence[str]) -> Any:
        """Take these chunks (and their child chunks) out of the vector and full-text indexes."""
        ...

    async def remove_document(self, document: Document) -> Any:
        """Take a document's every chunk out of the indexes."""
        ...

    async def pause(self, document_id: str) -> Any:
        """Hold a document's indexing at the step it has reached."""
        ...

    async def resume(self, document_id: str) -> Any:
        """Carry on indexing a paused document."""
        ...

    async def retry(self, document_ids: Sequence[str]) -> Any:
        """Index again documents that stopped with an error."""
        ...


class JobPort(Protocol):
    """The job queue's indexing entry (``treadle.jobs.JobQueue``)."""

    def enqueue_indexing(self, document_ids: Sequence[str]) -> Any:
        """Index these documents in the background (the answer may be awaitable)."""
        ...


class VectorPort(Protocol):
    """The part of :class:`~treadle.knowledge.vectors.VectorStores` the API calls."""

    async def drop(self, dataset: Dataset) -> Any:
        """Remove a dataset's whole collection."""
        ...


class RetrieverPort(Protocol):
    """:class:`~treadle.knowledge.retrieval.Retriever`'s entry point."""

    async def retrieve(
        self,
        tenant_id: str,
        dataset_ids: list[str],
        query: str,
        settings: Any,
        *,
        metadata_condition: Any = None,
        source: Any = "api",
        app_id: str | None = None,
        created_by: str | None = None,
    ) -> list[Any]:
        """The chunks that answer ``query`` (each with ``as_api_record()``)."""
        ...


async def settle(result: Any) -> Any:
    """``result``, awaited when it is awaitable: a port may answer at once or later."""
    if inspect.isawaitable(result):
        awaited: Awaitable[Any] = result
        return await awaited
    return result
