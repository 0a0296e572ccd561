"""Where a workspace's custom tool providers are kept: their OpenAPI document and credentials.

A small port (:class:`ApiToolStore`) with two implementations: :class:`MemoryApiToolStore` for tests
and single-process use, and :class:`SQLiteApiToolStore`, a file that keeps the API key encrypted
with the workspace secrets cipher (:class:`treadle.models.SecretCipher`: AES-GCM under a key of the
workspace, bound to the provider's id) and everything else in the clear. The interface is kept this
narrow so that the kernel's database layer can take its place.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..models.encryption import SecretCipher
from .api_request import ApiToolCredentials
from .local_stores import KeyedMemoryStore, LazySQLiteFile

__all__ = [
    "ApiToolProvider",
    "ApiToolStore",
    "MemoryApiToolStore",
    "SQLiteApiToolStore",
]


@dataclass(frozen=True)
class ApiToolProvider:
    """A custom tool provider of a workspace, as stored: the document as it was given, and how to
    authenticate. ``name`` is unique in the workspace; ``id`` is what DSL files reference
    (``provider_id``) besides the name."""

    tenant_id: str
    id: str
    name: str
    #: The OpenAPI or Swagger document, JSON or YAML text.
    spec: str
    credentials: ApiToolCredentials = field(default_factory=ApiToolCredentials)
    label: str = ""
    description: str = ""
    icon: str = ""
    privacy_policy: str = ""
    custom_disclaimer: str = ""
    #: Where the document was fetched from ("" when pasted); relative server URLs resolve against it.
    spec_url: str = ""
    updated_at: float = 0.0


class ApiToolStore(Protocol):
    """Custom tool providers by workspace and name."""

    async def get(self, tenant_id: str, name: str) -> ApiToolProvider | None:
        """The provider called ``name``, or None."""

    async def providers(self, tenant_id: str) -> list[ApiToolProvider]:
        """Every provider of the workspace, by name."""

    async def save(self, provider: ApiToolProvider) -> None:
        """Create the provider, or replace the one of the same workspace and name."""

    async def delete(self, tenant_id: str, name: str) -> bool:
        """Remove the provider; False if there was none."""


class MemoryApiToolStore(KeyedMemoryStore[ApiToolProvider]):
    """Providers in a dict, by name: gone when the process ends."""

    def __init__(self) -> None:
        super().__init__(lambda provider: provider.name)

    async def providers(self, tenant_id: str) -> list[ApiToolProvider]:
        return self.all_of(tenant_id)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tool_providers (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    spec TEXT NOT NULL,
    spec_url TEXT NOT NULL,
    meta TEXT NOT NULL,
    credentials TEXT NOT NULL,
    secret TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, name)
)
"""
_META = ("label", "description", "icon", "privacy_policy", "custom_disclaimer")
_COLUMNS = "tenant_id, name, id, spec, spec_url, meta, credentials, secret, updated_at"


class SQLiteApiToolStore:
    """Providers in a SQLite file; the API key is stored encrypted by ``cipher``, never in the clear."""

    @staticmethod
    def _context(provider_id: str) -> str:
        # Binds a stored key to its provider: copied into another row, it does not decrypt.
        return f"api_tool_provider/{provider_id}/api_key_value"

    def __init__(self, path: str | Path, cipher: SecretCipher) -> None:
        self.file = LazySQLiteFile(path, lambda db: db.execute(_SCHEMA))
        self.cipher = cipher

    def _row(self, row: tuple[Any, ...]) -> ApiToolProvider:
        tenant_id, name, provider_id, spec, spec_url, meta, credentials, secret, updated_at = row
        fields = json.loads(credentials)
        if secret:
            fields["api_key_value"] = self.cipher.decrypt(tenant_id, secret, context=self._context(provider_id))
        return ApiToolProvider(
            tenant_id=tenant_id,
            id=provider_id,
            name=name,
            spec=spec,
            spec_url=spec_url,
            credentials=ApiToolCredentials.parse(fields),
            updated_at=updated_at,
            **{key: str(value) for key, value in json.loads(meta).items() if key in _META},
        )

    def _get(self, tenant_id: str, name: str) -> ApiToolProvider | None:
        with self.file.connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM api_tool_providers WHERE tenant_id = ? AND name = ?", (tenant_id, name)
            ).fetchone()
        return None if row is None else self._row(row)

    def _providers(self, tenant_id: str) -> list[ApiToolProvider]:
        with self.file.connect() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM api_tool_providers WHERE tenant_id = ? ORDER BY name", (tenant_id,)
            ).fetchall()
        return [self._row(row) for row in rows]

    def _save(self, provider: ApiToolProvider) -> None:
        secret = provider.credentials.secret
        sealed = self.cipher.encrypt(provider.tenant_id, secret, context=self._context(provider.id)) if secret else ""
        meta = {key: getattr(provider, key) for key in _META}
        with self.file.connect() as db:
            db.execute(
                f"INSERT OR REPLACE INTO api_tool_providers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    provider.tenant_id,
                    provider.name,
                    provider.id,
                    provider.spec,
                    provider.spec_url,
                    json.dumps(meta),
                    json.dumps(provider.credentials.without_secret()),
                    sealed,
                    time.time(),
                ),
            )

    def _delete(self, tenant_id: str, name: str) -> bool:
        with self.file.connect() as db:
            cursor = db.execute("DELETE FROM api_tool_providers WHERE tenant_id = ? AND name = ?", (tenant_id, name))
        return cursor.rowcount > 0

    # A local file answers in microseconds to milliseconds; a worker thread keeps even a slow disk
    # off the event loop.

    async def get(self, tenant_id: str, name: str) -> ApiToolProvider | None:
        return await asyncio.to_thread(self._get, tenant_id, name)

    async def providers(self, tenant_id: str) -> list[ApiToolProvider]:
        return await asyncio.to_thread(self._providers, tenant_id)

    async def save(self, provider: ApiToolProvider) -> None:
        await asyncio.to_thread(self._save, provider)

    async def delete(self, tenant_id: str, name: str) -> bool:
        return await asyncio.to_thread(self._delete, tenant_id, name)
