"""The tenancy layer's key lookup (:class:`treadle.tenancy.ApiKeyRecords`) over the ``api_keys`` table."""

from __future__ import annotations

from sqlalchemy import select, update

from ..tenancy.api_keys import ApiKeyKind, StoredApiKey
from .database import Database
from .types import utcnow
from .workspaces import ApiKey

__all__ = ["SqlApiKeyRecords"]


class SqlApiKeyRecords:
    """Finds keys by digest; each lookup that finds one stamps its ``last_used_at``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def find_api_key(self, digest: str) -> StoredApiKey | None:
        """The key whose digest is ``digest``, or None."""
        async with self._db.session() as session:
            row = await session.scalar(select(ApiKey).where(ApiKey.token_hash == digest))
            if row is None:
                return None
            await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=utcnow()))
            return StoredApiKey(
                id=row.id,
                kind=ApiKeyKind(row.type),
                tenant_id=row.tenant_id,
                resource_id=row.app_id or "",
                digest=row.token_hash,
                display=row.prefix,
            )
