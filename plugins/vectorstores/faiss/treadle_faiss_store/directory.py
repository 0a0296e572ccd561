"""A faiss store directory: its SQLite file and the collections loaded from it in this process."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import VectorHit, VectorRecord
from treadle_sdk.vector_filter import FilterCondition

from .collection import Collection, normalised
from .database import VectorDatabase

__all__ = ["StoreDirectory", "check_length"]

T = TypeVar("T")


def check_length(collection: str, dimension: int, vector: Sequence[float], what: str) -> None:
    if len(vector) != dimension:
        raise PluginInvalidArgument(
            f"{what} has {len(vector)} dimensions, but collection {collection!r} holds vectors of {dimension}",
            details={"collection": collection, "dimension": dimension, "given": len(vector)},
        )


def _missing(exc: sqlite3.OperationalError) -> bool:
    """The table went away under the call: another thread or process dropped the collection."""
    return "no such table" in str(exc)


class StoreDirectory:
    """The collections of one store directory. Collections load lazily, on their first use in the
    process; a commit by another process (seen through SQLite's ``data_version``) unloads them all,
    so the next call reloads what that process wrote."""

    def __init__(self, database: VectorDatabase) -> None:
        self.database = database
        self._loaded: dict[str, Collection] = {}
        # Held while a collection loads, so that two first calls do not both load it.
        self._loading = threading.Lock()
        self._version = database.data_version()

    def close(self) -> None:
        self._loaded.clear()
        self.database.close()

    def _collection(self, name: str) -> Collection | None:
        version = self.database.data_version()
        if version != self._version:
            self._version = version
            self._loaded.clear()
        if (found := self._loaded.get(name)) is not None:
            return found
        with self._loading:
            if (found := self._loaded.get(name)) is not None:
                return found
            dimension = self.database.dimension(name)
            if dimension is None:
                return None
            collection = Collection(dimension)
            rows = self.database.load(name, dimension)
            collection.add(rows.nums, rows.vectors, rows.metadata)
            self._loaded[name] = collection
            return collection

    def _unload(self, name: str, collection: Collection) -> None:
        if self._loaded.get(name) is collection:
            del self._loaded[name]

    # -- operations -------------------------------------------------------------------------------

    def create(self, name: str, dimension: int) -> None:
        existing = self.database.create(name, dimension)
        if existing != dimension:
            raise PluginInvalidArgument(
                f"collection {name!r} exists with dimension {existing}; "
                f"it cannot be created with dimension {dimension}",
                details={"collection": name, "dimension": existing, "given": dimension},
            )

    @contextmanager
    def _writing(self, name: str) -> Iterator[Collection | None]:
        """The collection, loaded and locked for writing; None when it does not exist. A collection
        dropped (and maybe created again) while the lock was awaited is looked up afresh."""
        while True:
            collection = self._collection(name)
            if collection is None:
                yield None
                return
            with collection.lock.writing():
                if self._loaded.get(name) is collection:
                    yield collection
                    return

    def upsert(self, name: str, records: Sequence[VectorRecord]) -> int:
        with self._writing(name) as collection:
            if collection is None:
                raise PluginNotFound(
                    f"collection {name!r} does not exist; create it (create_collection) before upserting",
                    details={"collection": name},
                )
            for record in records:
                check_length(name, collection.dimension, record.vector, f"the vector of record {record.id!r}")
            if not records:
                return 0
            vectors = normalised([record.vector for record in records], collection.dimension)
            rows = [
                (record.id, vector.tobytes(), record.text, json.dumps(record.metadata))
                for record, vector in zip(records, vectors, strict=True)
            ]
            try:
                nums = self.database.upsert(name, rows)
            except sqlite3.OperationalError as exc:
                if _missing(exc):
                    self._unload(name, collection)
                    raise PluginNotFound(f"collection {name!r} was dropped", details={"collection": name}) from None
                raise
            # The same id twice in one call: the last record wins, as it did in SQLite.
            last = {num: position for position, num in enumerate(nums)}
            positions = list(last.values())
            try:
                collection.remove(last)
                collection.add(
                    np.array(list(last), dtype=np.int64), vectors[positions], [records[p].metadata for p in positions]
                )
            except BaseException:
                # Committed, but the index is not what SQLite holds: rebuild it on the next call.
                self._unload(name, collection)
                raise
        return len(records)

    def search(
        self,
        name: str,
        vector: Sequence[float],
        top_k: int,
        conditions: Sequence[FilterCondition],
        score_threshold: float | None,
    ) -> list[VectorHit]:
        collection = self._collection(name)
        if collection is None or any(condition.matches_nothing for condition in conditions):
            return []
        check_length(name, collection.dimension, vector, "the query vector")
        query = normalised([vector], collection.dimension)
        with collection.lock.reading():
            ranked = collection.search(query, top_k, conditions)
        # Rounding can take the inner product of two unit vectors a hair past 1.
        scored = [(num, max(-1.0, min(1.0, score))) for num, score in zip(ranked.nums, ranked.scores, strict=True)]
        if score_threshold is not None:
            scored = [(num, score) for num, score in scored if score >= score_threshold]
        if not scored:
            return []
        try:
            stored = self.database.fetch(name, [num for num, _ in scored])
        except sqlite3.OperationalError as exc:
            if _missing(exc):
                return []
            raise
        # A record deleted between the index search and the fetch is left out.
        return [
            VectorHit(id=hit.id, score=score, text=hit.text, metadata=hit.metadata)
            for num, score in scored
            if (hit := stored.get(num)) is not None
        ]

    def delete(self, name: str, ids: Sequence[str]) -> int:
        with self._writing(name) as collection:
            if collection is None or not ids:
                return 0
            nothing: list[int] = []
            nums = self._write(name, collection, lambda: self.database.delete_ids(name, ids), nothing)
            collection.remove(nums)
        return len(nums)

    def delete_where(self, name: str, conditions: Sequence[FilterCondition]) -> int:
        with self._writing(name) as collection:
            if collection is None:
                return 0
            nums = collection.select(conditions)
            if not nums:
                return 0
            deleted = self._write(name, collection, lambda: self.database.delete_nums(name, nums), 0)
            collection.remove(nums)
        return deleted

    def count(self, name: str) -> int:
        collection = self._collection(name)
        return 0 if collection is None else collection.size

    def drop(self, name: str) -> None:
        with self._writing(name) as collection:
            self.database.drop(name)
            if collection is not None:
                self._unload(name, collection)

    def _write(self, name: str, collection: Collection, write: Callable[[], T], nothing: T) -> T:
        """Run a delete on SQLite; a collection dropped meanwhile has ``nothing`` left to delete."""
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if _missing(exc):
                self._unload(name, collection)
                return nothing
            raise
