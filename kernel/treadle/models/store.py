"""Where workspace settings live: credentials (secret fields already encrypted) and small JSON settings.

The interface is deliberately narrow (six calls) so that the SQL store of a later issue can replace
:class:`SqliteSettingsStore` without touching the settings services.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["MemorySettingsStore", "SettingsStore", "SqliteSettingsStore", "StoredCredential"]


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """One saved credential as stored: the values of ``secret_fields`` are ciphertext.

    ``kind`` is ``model`` or ``tool``; ``model``/``model_type`` are empty for a provider's own
    credentials and set for a custom model's.
    """

    id: str
    tenant_id: str
    kind: str
    provider: str
    name: str
    values: dict[str, Any]
    secret_fields: tuple[str, ...] = ()
    model: str = ""
    model_type: str = ""
    created_at: float = 0.0


class SettingsStore(Protocol):
    """Storage of workspace settings, scoped by tenant."""

    async def put_credential(self, record: StoredCredential) -> None:
        """Insert the record, or replace the one with its id."""

    async def get_credential(self, tenant_id: str, credential_id: str) -> StoredCredential | None: ...

    async def list_credentials(
        self, tenant_id: str, kind: str | None = None, provider: str | None = None
    ) -> list[StoredCredential]:
        """The tenant's credentials (of one kind and provider, if given), oldest first."""

    async def delete_credential(self, tenant_id: str, credential_id: str) -> bool:
        """Delete one; False if there was none."""

    async def get_setting(self, tenant_id: str, key: str) -> Any:
        """The JSON value stored under ``key``, or None."""

    async def put_setting(self, tenant_id: str, key: str, value: Any) -> None:
        """Store a JSON value under ``key``; None deletes it."""


class MemorySettingsStore:
    """Settings in dicts, for tests and throwaway servers."""

    def __init__(self) -> None:
        self._credentials: dict[tuple[str, str], StoredCredential] = {}
        self._settings: dict[tuple[str, str], str] = {}

    async def put_credential(self, record: StoredCredential) -> None:
        self._credentials[(record.tenant_id, record.id)] = record

    async def get_credential(self, tenant_id: str, credential_id: str) -> StoredCredential | None:
        return self._credentials.get((tenant_id, credential_id))

    async def list_credentials(
        self, tenant_id: str, kind: str | None = None, provider: str | None = None
    ) -> list[StoredCredential]:
        found = [
            record
            for (tenant, _), record in self._credentials.items()
            if tenant == tenant_id and kind in (None, record.kind) and provider in (None, record.provider)
        ]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    async def delete_credential(self, tenant_id: str, credential_id: str) -> bool:
        return self._credentials.pop((tenant_id, credential_id), None) is not None

    async def get_setting(self, tenant_id: str, key: str) -> Any:
        raw = self._settings.get((tenant_id, key))
        return None if raw is None else json.loads(raw)

    async def put_setting(self, tenant_id: str, key: str, value: Any) -> None:
        if value is None:
            self._settings.pop((tenant_id, key), None)
        else:
            # Stored as JSON text so that callers get copies, as from a database.
            self._settings[(tenant_id, key)] = json.dumps(value)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS credentials (id TEXT NOT NULL, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "provider TEXT NOT NULL, model TEXT NOT NULL, model_type TEXT NOT NULL, name TEXT NOT NULL, "
    "body TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (tenant_id, id))",
    "CREATE INDEX IF NOT EXISTS credentials_by_provider ON credentials (tenant_id, kind, provider)",
    "CREATE TABLE IF NOT EXISTS settings (tenant_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
    "PRIMARY KEY (tenant_id, key))",
)

_COLUMNS = "id, tenant_id, kind, provider, model, model_type, name, body, created_at"


def _row(row: tuple[Any, ...]) -> StoredCredential:
    body = json.loads(row[7])
    return StoredCredential(
        id=row[0],
        tenant_id=row[1],
        kind=row[2],
        provider=row[3],
        model=row[4],
        model_type=row[5],
        name=row[6],
        values=body["values"],
        secret_fields=tuple(body["secret_fields"]),
        created_at=row[8],
    )


class SqliteSettingsStore:
    """Settings in a SQLite file (``$TREADLE_HOME/models.db``, mode 0600), made on the first write.

    One connection, opened on first use: reads run on the caller's thread (a model call reads its
    credentials in tens of microseconds), writes on a worker thread since they may wait for another
    process's. In WAL mode each read sees what other processes (the CLI, another server) committed.
    Reads before the file exists find nothing. :meth:`close` closes the connection; a later call
    opens it again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self, *, write: bool) -> sqlite3.Connection | None:
        if self._db is None:
            if not write and not self.path.exists():
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # Only secrets' ciphertext is in it, but the rest (endpoints, names) is nobody else's.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                db.execute(statement)
            self._db = db
        return self._db

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            db = self._connection(write=False)
            return [] if db is None else db.execute(sql, params).fetchall()

    def _write_now(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            db = self._connection(write=True)
            assert db is not None
            return db.execute(sql, params).rowcount

    async def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        return await asyncio.to_thread(self._write_now, sql, params)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def put_credential(self, record: StoredCredential) -> None:
        body = json.dumps({"values": record.values, "secret_fields": list(record.secret_fields)})
        await self._write(
            f"INSERT OR REPLACE INTO credentials ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.id, record.tenant_id, record.kind, record.provider, record.model, record.model_type,
             record.name, body, record.created_at),
        )

    async def get_credential(self, tenant_id: str, credential_id: str) -> StoredCredential | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM credentials WHERE tenant_id=? AND id=?", (tenant_id, credential_id))
        return _row(rows[0]) if rows else None

    async def list_credentials(
        self, tenant_id: str, kind: str | None = None, provider: str | None = None
    ) -> list[StoredCredential]:
        sql = f"SELECT {_COLUMNS} FROM credentials WHERE tenant_id=?"
        params: list[Any] = [tenant_id]
        if kind is not None:
            sql += " AND kind=?"
            params.append(kind)
        if provider is not None:
            sql += " AND provider=?"
            params.append(provider)
        rows = self._read(sql + " ORDER BY created_at, id", tuple(params))
        return [_row(row) for row in rows]

    async def delete_credential(self, tenant_id: str, credential_id: str) -> bool:
        count = await self._write("DELETE FROM credentials WHERE tenant_id=? AND id=?", (tenant_id, credential_id))
        return count > 0

    async def get_setting(self, tenant_id: str, key: str) -> Any:
        rows = self._read("SELECT value FROM settings WHERE tenant_id=? AND key=?", (tenant_id, key))
        return json.loads(rows[0][0]) if rows else None

    async def put_setting(self, tenant_id: str, key: str, value: Any) -> None:
        if value is None:
            await self._write("DELETE FROM settings WHERE tenant_id=? AND key=?", (tenant_id, key))
        else:
            await self._write(
                "INSERT OR REPLACE INTO settings (tenant_id, key, value) VALUES (?, ?, ?)",
                (tenant_id, key, json.dumps(value)),
            )
