"""Everything the qdrant store asks of Qdrant, through one client per configuration."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from qdrant_client import QdrantClient
from qdrant_client.http import models
from qdrant_client.http.exceptions import UnexpectedResponse
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import (
    CollectionArgs,
    CreateCollectionArgs,
    DeleteVectorsArgs,
    DeleteWhereArgs,
    SearchVectorsArgs,
    UpsertVectorsArgs,
    VectorHit,
)
from treadle_sdk.vector_filter import parse_vector_filter

from .config import QdrantConfig, point_id
from .filters import METADATA, qdrant_filter

__all__ = ["UPSERT_BATCH", "QdrantCollections"]

T = TypeVar("T")

#: Points sent per upsert request.
UPSERT_BATCH = 256


def _is_missing(exc: Exception) -> bool:
    """Whether ``exc`` is Qdrant saying the collection does not exist (local mode raises ValueError)."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404
    return isinstance(exc, ValueError) and "not found" in str(exc)


class _Connection:
    """One client and what is known of its collections' dimensions. Local mode is not safe for
    threads, so its calls take turns; a server client is called from any thread."""

    def __init__(self, config: QdrantConfig) -> None:
        if config.url:
            self.client = QdrantClient(url=config.url, api_key=config.api_key or None)
        elif config.path:
            # Calls run in the host's worker threads, not the thread that opened local mode's SQLite file.
            self.client = QdrantClient(path=config.path, force_disable_check_same_thread=True)
        else:
            self.client = QdrantClient(location=":memory:")
        self._turns: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if config.local else contextlib.nullcontext()
        )
        self.dimensions: dict[str, int] = {}

    def run(self, call: Callable[[QdrantClient], T]) -> T:
        with self._turns:
            return call(self.client)

    def dimension(self, collection: str) -> int | None:
        """The collection's vector size; None when it does not exist."""
        if (known := self.dimensions.get(collection)) is not None:
            return known
        try:
            info = self.run(lambda client: client.get_collection(collection))
        except (UnexpectedResponse, ValueError) as exc:
            if _is_missing(exc):
                return None
            raise
        vectors = info.config.params.vectors
        if not isinstance(vectors, models.VectorParams):
            raise PluginInvalidArgument(
                f"collection {collection!r} has named vectors; Treadle's collections have one unnamed vector",
                details={"collection": collection},
            )
        self.dimensions[collection] = vectors.size
        return vectors.size


def _check_length(collection: str, dimension: int, vector: Sequence[float], what: str) -> None:
    if len(vector) != dimension:
        raise PluginInvalidArgument(
            f"{what} has {len(vector)} dimensions, but collection {collection!r} holds vectors of {dimension}",
            details={"collection": collection, "dimension": dimension, "given": len(vector)},
        )


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class QdrantCollections:
    """The operations of the store on the Qdrant of one configuration."""

    def __init__(self, config: QdrantConfig) -> None:
        self.connection = _Connection(config)

    def close(self) -> None:
        self.connection.run(lambda client: client.close())

    def create_collection(self, args: CreateCollectionArgs) -> None:
        connection = self.connection
        connection.dimensions.pop(args.collection, None)
        existing = connection.dimension(args.collection)
        if existing is None:
            params = models.VectorParams(size=args.dimension, distance=models.Distance.COSINE)
            try:
                connection.run(lambda client: client.create_collection(args.collection, vectors_config=params))
            except (UnexpectedResponse, ValueError):
                # Created by another caller meanwhile? Then its dimension decides below.
                connection.dimensions.pop(args.collection, None)
                if connection.dimension(args.collection) is None:
                    raise
            existing = connection.dimension(args.collection)
        if existing != args.dimension:
            raise PluginInvalidArgument(
                f"collection {args.collection!r} exists with dimension {existing}; it cannot be created "
                f"with dimension {args.dimension}",
                details={"collection": args.collection, "dimension": existing, "given": args.dimension},
            )

    def upsert(self, args: UpsertVectorsArgs) -> int:
        connection = self.connection
        dimension = connection.dimension(args.collection)
        if dimension is None:
            raise PluginNotFound(
                f"collection {args.collection!r} does not exist; create it (create_collection) before upserting",
                details={"collection": args.collection},
            )
        for record in args.records:
            _check_length(args.collection, dimension, record.vector, f"the vector of record {record.id!r}")
        points = [
            models.PointStruct(
                id=point_id(record.id),
                vector=record.vector,
                payload={"id": record.id, "text": record.text, METADATA: record.metadata},
            )
            for record in args.records
        ]
        for batch in _batches(points, UPSERT_BATCH):

            def send(client: QdrantClient, batch: Sequence[models.PointStruct] = batch) -> None:
                client.upsert(args.collection, points=list(batch), wait=True)

            try:
                connection.run(send)
            except (UnexpectedResponse, ValueError) as exc:
                if not _is_missing(exc):
                    raise
                connection.dimensions.pop(args.collection, None)
                raise PluginNotFound(
                    f"collection {args.collection!r} was dropped", details={"collection": args.collection}
                ) from None
        return len(args.records)

    def search(self, args: SearchVectorsArgs) -> list[VectorHit]:
        conditions = parse_vector_filter(args.filter)
        if any(condition.matches_nothing for condition in conditions):
            return []
        connection = self.connection
        dimension = connection.dimension(args.collection)
        if dimension is None:
            return []
        _check_length(args.collection, dimension, args.vector, "the query vector")
        try:
            found = connection.run(
                lambda client: client.query_points(
                    args.collection,
                    query=args.vector,
                    query_filter=qdrant_filter(conditions),
                    limit=args.top_k,
                    score_threshold=args.score_threshold,
                    with_payload=True,
                )
            )
        except (UnexpectedResponse, ValueError) as exc:
            if _is_missing(exc):
                connection.dimensions.pop(args.collection, None)
                return []
            raise
        hits = []
        for point in found.points:
            payload = point.payload or {}
            # Rounding can take the cosine of two vectors a hair past 1; the threshold is ours to keep.
            score = max(-1.0, min(1.0, point.score))
            if args.score_threshold is not None and score < args.score_threshold:
                continue
            hits.append(
                VectorHit(
                    id=str(payload.get("id", point.id)),
                    score=score,
                    text=str(payload.get("text", "")),
                    metadata=dict(payload.get(METADATA) or {}),
                )
            )
        return hits

    def _reading(self, connection: _Connection, collection: str, read: Callable[[QdrantClient], T], none: T) -> T:
        """Run ``read``; a collection that does not exist reads as ``none``."""
        try:
            return connection.run(read)
        except (UnexpectedResponse, ValueError) as exc:
            if _is_missing(exc):
                connection.dimensions.pop(collection, None)
                return none
            raise

    def delete(self, args: DeleteVectorsArgs) -> int:
        if not args.ids:
            return 0
        connection = self.connection
        ids: list[models.ExtendedPointId] = [point_id(i) for i in dict.fromkeys(args.ids)]
        nothing: list[models.Record] = []
        present = self._reading(
            connection,
            args.collection,
            lambda client: client.retrieve(args.collection, ids=ids, with_payload=False, with_vectors=False),
            nothing,
        )
        if not present:
            return 0
        selector = models.PointIdsList(points=[point.id for point in present])
        self._reading(connection, args.collection, lambda client: client.delete(args.collection, selector), None)
        return len(present)

    def delete_where(self, args: DeleteWhereArgs) -> int:
        conditions = parse_vector_filter(args.filter)
        if any(condition.matches_nothing for condition in conditions):
            return 0
        connection = self.connection
        where = qdrant_filter(conditions)
        counted = self._reading(
            connection,
            args.collection,
            lambda client: client.count(args.collection, count_filter=where, exact=True).count,
            0,
        )
        if not counted or where is None:
            return 0
        selector = models.FilterSelector(filter=where)
        self._reading(connection, args.collection, lambda client: client.delete(args.collection, selector), None)
        return counted

    def count(self, args: CollectionArgs) -> int:
        connection = self.connection
        return self._reading(
            connection, args.collection, lambda client: client.count(args.collection, exact=True).count, 0
        )

    def drop_collection(self, args: CollectionArgs) -> None:
        connection = self.connection
        connection.dimensions.pop(args.collection, None)
        self._reading(connection, args.collection, lambda client: client.delete_collection(args.collection), None)
