"""Text embeddings for knowledge bases, through the workspace's embedding model and a cache
(KB-INDEX-HQ).

Every vector a model answers is kept in :class:`~treadle.store.EmbeddingCacheEntry` (model
``provider/model``, SHA-256 of the text, little-endian float32), written in a transaction of its own
as soon as the model answers, before anything else is done with it. So a text is sent to a model
once: not again after a crash, nor when a chunk is re-enabled, edited back, or appears in another
document. Query embeddings are cached under ``provider/model#query``: some models embed a query
differently from a document (``input_type``).

Query embeddings are also kept in memory, the most recent :data:`QUERY_MEMORY` of them (float32,
1.5 KB each at 384 numbers): a query asked again, as users and hit tests do, costs no database read.
A vector never changes for its model and text, so the memory needs no invalidation.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from treadle_sdk.errors import PluginError, PluginNotFound

from ..store import Database, EmbeddingCacheEntry
from .errors import KnowledgeError, ModelNotConfigured, ModelRequestFailed

if TYPE_CHECKING:
    from ..plugins import PluginSupervisor

__all__ = ["DEFAULT_BATCH_SIZE", "QUERY_MEMORY", "Embedder", "model_key", "text_hash"]

#: Texts sent to the model in one call.
DEFAULT_BATCH_SIZE = 32
#: Hashes looked up in one query (databases cap the parameters of a statement).
_LOOKUP_BATCH = 500
#: Query embeddings kept in memory per Embedder (least recently used first out).
QUERY_MEMORY = 1024

InputType = Literal["document", "query"]


def text_hash(text: str) -> str:
    """The cache key of ``text``: SHA-256, hex (lone surrogates hash too, as the wire carries them)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def model_key(provider: str, model: str, input_type: InputType = "document") -> str:
    """The cache's name of a model's embeddings of one input type."""
    key = f"{provider}/{model}"
    return key if input_type == "document" else f"{key}#{input_type}"


class Embedder:
    """Embeds texts with a workspace's model, each text at most once per model (the cache).

    ``batch_size`` texts go to the model in one call; each call's answers are cached before the
    next call is made.
    """

    def __init__(
        self,
        db: Database,
        supervisor: PluginSupervisor,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        query_memory: int = QUERY_MEMORY,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.db = db
        self.supervisor = supervisor
        self.batch_size = batch_size
        self.query_memory = query_memory
        self._queries: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    async def embed(
        self, tenant_id: str, provider: str, model: str, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        """The embeddings of ``texts``, in order. Texts the cache holds are not sent to the model;
        the same text twice in ``texts`` is sent once.

        Raises :class:`ModelNotConfigured` when the workspace has no such embedding model, and
        :class:`ModelRequestFailed` (with the provider's message) when the model fails.
        """
        key = model_key(provider, model, input_type)
        hashes = [text_hash(text) for text in texts]
        if input_type == "query":
            remembered = [self._queries.get((key, digest)) for digest in hashes]
            if all(vector is not None for vector in remembered):
                for digest in hashes:
                    self._queries.move_to_end((key, digest))
                return [vector.astype(float).tolist() for vector in remembered]  # type: ignore[union-attr]
        found = await self._cached(key, hashes)
        missing: dict[str, str] = {}
        for digest, text in zip(hashes, texts, strict=True):
            if digest not in found:
                missing.setdefault(digest, text)
        pending = list(missing.items())
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            vectors = await self._invoke(tenant_id, provider, model, [text for _, text in batch], input_type)
            await self._store(key, [digest for digest, _ in batch], vectors)
            found.update(zip((digest for digest, _ in batch), vectors, strict=True))
        if input_type == "query":
            self._remember(key, found)
        return [found[digest] for digest in hashes]

    def _remember(self, key: str, vectors: dict[str, list[float]]) -> None:
        for digest, vector in vectors.items():
            self._queries[(key, digest)] = np.asarray(vector, dtype="<f4")
            self._queries.move_to_end((key, digest))
        while len(self._queries) > self.query_memory:
            self._queries.popitem(last=False)

    async def _cached(self, key: str, hashes: Sequence[str]) -> dict[str, list[float]]:
        unique = list(dict.fromkeys(hashes))
        found: dict[str, list[float]] = {}
        async with self.db.session() as session:
            for start in range(0, len(unique), _LOOKUP_BATCH):
                rows = await session.execute(
                    select(EmbeddingCacheEntry.text_hash, EmbeddingCacheEntry.vector).where(
                        EmbeddingCacheEntry.model_key == key,
                        EmbeddingCacheEntry.text_hash.in_(unique[start : start + _LOOKUP_BATCH]),
                    )
                )
                for digest, blob in rows:
                    found[digest] = np.frombuffer(blob, dtype="<f4").astype(float).tolist()
        return found

    async def _invoke(
        self, tenant_id: str, provider: str, model: str, texts: list[str], input_type: InputType
    ) -> list[list[float]]:
        where = f"embedding model {provider}/{model}"
        try:
            with self.supervisor.kernel_client(tenant_id=tenant_id) as kernel:
                result = await kernel.ainvoke_text_embedding(provider, model, texts, input_type=input_type)
        except PluginNotFound as exc:
            raise ModelNotConfigured(f"The {where} is not available in this workspace: {exc.message}") from None
        except PluginError as exc:
            raise ModelRequestFailed(f"The {where} failed: {exc.message}") from None
        # As float32, the precision the cache keeps: a text's vector is the same cached or not.
        vectors = [np.asarray(vector, dtype="<f4").astype(float).tolist() for vector in result.embeddings]
        if len(vectors) != len(texts):
            raise KnowledgeError(f"The {where} answered {len(vectors)} embeddings for {len(texts)} texts.")
        return vectors

    async def _store(self, key: str, hashes: list[str], vectors: list[list[float]]) -> None:
        """Cache a model's answers at once, in a transaction of their own."""
        rows = [
            {"model_key": key, "text_hash": digest, "dimension": len(vector),
             "vector": np.asarray(vector, dtype="<f4").tobytes()}
            for digest, vector in zip(hashes, vectors, strict=True)
        ]  # fmt: skip
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        # Another process may have cached the same text meanwhile: its vector is as good.
        statement = insert(EmbeddingCacheEntry).values(rows).on_conflict_do_nothing()
        async with self.db.session() as session:
            await session.execute(statement)
