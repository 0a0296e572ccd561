"""What the tool stores of a workspace (custom OpenAPI providers, MCP servers) share: records kept in
a dict for tests and single-process use, and a SQLite file made on first use."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["KeyedMemoryStore", "LazySQLiteFile"]


class _Record(Protocol):
    """A frozen dataclass of a workspace with an ``updated_at`` field."""

    @property
    def tenant_id(self) -> str: ...


R = TypeVar("R", bound=_Record)


class KeyedMemoryStore(Generic[R]):
    """Records (frozen dataclasses) in a dict by workspace and ``key``: gone when the process ends."""

    def __init__(self, key: Callable[[R], str]) -> None:
        self._key = key
        self._records: dict[tuple[str, str], R] = {}

    async def get(self, tenant_id: str, key: str) -> R | None:
        """The record ``key`` of the workspace, or None."""
        return self._records.get((tenant_id, key))

    def all_of(self, tenant_id: str) -> list[R]:
        """Every record of the workspace, by key."""
        return sorted((r for (t, _), r in self._records.items() if t == tenant_id), key=self._key)

    def every(self) -> list[R]:
        """Every record of every workspace."""
        return list(self._records.values())

    async def save(self, record: R) -> None:
        """Create the record, or replace the one of the same workspace and key (stamped now)."""
        stamped: Any = replace(record, updated_at=time.time())  # type: ignore[type-var]
        self._records[(record.tenant_id, self._key(record))] = stamped

    async def delete(self, tenant_id: str, key: str) -> bool:
        """Remove the record; False if there was none."""
        return self._records.pop((tenant_id, key), None) is not None


class LazySQLiteFile:
    """A SQLite file (and its directory) made on first use, not when the server starts; ``prepare``
    runs once, on the first connection, to create or bring up to date its tables."""

    def __init__(self, path: str | Path, prepare: Callable[[sqlite3.Connection], object]) -> None:
        self.path = Path(path)
        self._prepare = prepare
        self._ready = False

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction (committed when the block ends without an error)."""
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        try:
            with db:
                if not self._ready:
                    self._prepare(db)
                    self._ready = True
                yield db
        finally:
            db.close()
