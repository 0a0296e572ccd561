"""Knowledge API keys for tests: a workspace's ``dataset-…`` key, stored as the console stores one."""

from __future__ import annotations

from treadle.store import ApiKey, Database
from treadle.tenancy import ApiKeyKind, issue_api_key


async def knowledge_key(db: Database, tenant_id: str) -> str:
    """A new knowledge (dataset) API key of workspace ``tenant_id``; the token."""
    issued = issue_api_key(ApiKeyKind.DATASET)
    async with db.session() as session:
        session.add(ApiKey(tenant_id=tenant_id, type="dataset", token_hash=issued.digest, prefix=issued.display))
    return issued.token
