"""The durable truth of a faiss store: one SQLite file per store directory.

Every upsert and delete is committed (WAL, ``synchronous=FULL``) before the call returns, so a
process killed at any moment loses nothing it acknowledged; the faiss indexes in memory are rebuilt
from here. Each collection is a table ``v_<collection name in hex>`` of ``num`` (the integer id faiss knows
the record by), the caller's ``id``, the normalised vector (float32 bytes), ``text`` and
``metadata`` (JSON); table ``collections`` holds each collection's dimension.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FILE_NAME", "LoadedRows", "StoredHit", "VectorDatabase"]

FILE_NAME = "vectors.sqlite3"


def _table(collection: str) -> str:
    # SQLite folds the case of identifiers, quoted or not, and collection names are case-sensitive:
    # the name goes in hex.
    return f"v_{collection.encode().hex()}"


@dataclass(frozen=True)
class LoadedRows:
    """Everything the index of a collection is built from."""

    nums: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]
    metadata: list[dict[str, Any]]


@dataclass(frozen=True)
class StoredHit:
    """The stored fields of one record, for a search hit."""

    id: str
    text: str
    metadata: dict[str, Any]


class VectorDatabase:
    """One SQLite connection to ``<directory>/vectors.sqlite3``, shared by the threads of the
    process under a lock (SQLite serialises writers anyway)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        # Autocommit mode: every write below runs in an explicit BEGIN IMMEDIATE ... COMMIT.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when it returns, even if the machine loses power after it.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, dimension INTEGER NOT NULL)")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def data_version(self) -> int:
        """Changes whenever another connection (another process) commits to the file."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def dimension(self, collection: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT dimension FROM collections WHERE name = ?", (collection,)).fetchone()
        return None if row is None else int(row[0])

    def create(self, collection: str, dimension: int) -> int:
        """Create the collection unless it exists; returns its dimension (the existing one if it did)."""
        with self._transaction() as db:
            row = db.execute("SELECT dimension FROM collections WHERE name = ?", (collection,)).fetchone()
            if row is not None:
                return int(row[0])
            db.execute("INSERT INTO collections (name, dimension) VALUES (?, ?)", (collection, dimension))
            db.execute(
                f"CREATE TABLE {_table(collection)} (num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
                " vector BLOB NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL)"
            )
        return dimension

    def drop(self, collection: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM collections WHERE name = ?", (collection,))
            db.execute(f"DROP TABLE IF EXISTS {_table(collection)}")

    def load(self, collection: str, dimension: int) -> LoadedRows:
        with self._lock:
            rows = self._db.execute(f"SELECT num, vector, metadata FROM {_table(collection)} ORDER BY num").fetchall()
        nums = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), dimension)
        return LoadedRows(nums, vectors, [json.loads(row[2]) for row in rows])

    def upsert(self, collection: str, rows: Iterable[tuple[str, bytes, str, str]]) -> list[int]:
        """Write ``(id, vector, text, metadata JSON)`` rows, replacing those with the same id (which
        keep their ``num``); returns the ``num`` of each row, in order."""
        sql = (
            f"INSERT INTO {_table(collection)} (id, vector, text, metadata) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET vector = excluded.vector, text = excluded.text,"
            " metadata = excluded.metadata RETURNING num"
        )
        with self._transaction() as db:
            return [int(db.execute(sql, row).fetchone()[0]) for row in rows]

    def delete_ids(self, collection: str, ids: Sequence[str]) -> list[int]:
        """Delete records by the caller's ids; returns the ``num`` of those that were there."""
        sql = f"DELETE FROM {_table(collection)} WHERE id IN (SELECT value FROM json_each(?)) RETURNING num"
        with self._transaction() as db:
            return [int(row[0]) for row in db.execute(sql, (json.dumps(list(ids)),)).fetchall()]

    def delete_nums(self, collection: str, nums: Iterable[int]) -> int:
        sql = f"DELETE FROM {_table(collection)} WHERE num IN (SELECT value FROM json_each(?))"
        with self._transaction() as db:
            return db.execute(sql, (json.dumps(list(nums)),)).rowcount

    def count(self, collection: str) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM {_table(collection)}").fetchone()[0])

    def fetch(self, collection: str, nums: Sequence[int]) -> dict[int, StoredHit]:
        """The stored fields of records by ``num``; records deleted meanwhile are absent."""
        sql = f"SELECT num, id, text, metadata FROM {_table(collection)} WHERE num IN (SELECT value FROM json_each(?))"
        with self._lock:
            rows = self._db.execute(sql, (json.dumps(list(nums)),)).fetchall()
        return {int(num): StoredHit(id, text, json.loads(metadata)) for num, id, text, metadata in rows}
