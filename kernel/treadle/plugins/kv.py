"""Per-plugin key-value storage (PLUG-KV): bytes values scoped to one plugin and one tenant."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

__all__ = ["KVStore", "MemoryKVStore", "SqliteKVStore"]


class KVStore(Protocol):
    """Where plugin KV data lives. Keys are scoped by ``(plugin, tenant_id)``."""

    async def get(self, plugin: str, tenant_id: str, key: str) -> bytes | None: ...

    async def set(self, plugin: str, tenant_id: str, key: str, value: bytes) -> None: ...

    async def delete(self, plugin: str, tenant_id: str, key: str) -> None: ...


class MemoryKVStore:
    """KV storage in a dict, for tests and throwaway servers."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str, str], bytes] = {}

    async def get(self, plugin: str, tenant_id: str, key: str) -> bytes | None:
        return self._data.get((plugin, tenant_id, key))

    async def set(self, plugin: str, tenant_id: str, key: str, value: bytes) -> None:
        self._data[(plugin, tenant_id, key)] = bytes(value)

    async def delete(self, plugin: str, tenant_id: str, key: str) -> None:
        self._data.pop((plugin, tenant_id, key), None)


class SqliteKVStore:
    """KV storage in a SQLite file of the data directory; calls run off the event loop."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS plugin_kv (plugin TEXT NOT NULL, tenant_id TEXT NOT NULL, "
            "key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (plugin, tenant_id, key))"
        )
        self._lock = threading.Lock()

    def _get(self, plugin: str, tenant_id: str, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM plugin_kv WHERE plugin=? AND tenant_id=? AND key=?", (plugin, tenant_id, key)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def _set(self, plugin: str, tenant_id: str, key: str, value: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO plugin_kv (plugin, tenant_id, key, value) VALUES (?, ?, ?, ?)",
                (plugin, tenant_id, key, value),
            )

    def _delete(self, plugin: str, tenant_id: str, key: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM plugin_kv WHERE plugin=? AND tenant_id=? AND key=?", (plugin, tenant_id, key)
            )

    async def get(self, plugin: str, tenant_id: str, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get, plugin, tenant_id, key)

    async def set(self, plugin: str, tenant_id: str, key: str, value: bytes) -> None:
        await asyncio.to_thread(self._set, plugin, tenant_id, key, value)

    async def delete(self, plugin: str, tenant_id: str, key: str) -> None:
        await asyncio.to_thread(self._delete, plugin, tenant_id, key)

    def close(self) -> None:
        with self._lock:
            self._db.close()
