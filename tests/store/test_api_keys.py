"""API keys are found by digest for treadle.tenancy's authentication, which stamps their last use."""

from __future__ import annotations

import pytest
from treadle.store import ApiKey, Database, SqlApiKeyRecords
from treadle.tenancy import ApiKeyKind, InvalidApiKey, authenticate_api_key, issue_api_key

from .worlds import workspace_with_app


async def _store_key(db: Database, tenant_id: str, app_id: str | None, kind: ApiKeyKind) -> tuple[str, str]:
    issued = issue_api_key(kind)
    async with db.session() as s:
        key = ApiKey(tenant_id=tenant_id, app_id=app_id, type=kind.value, token_hash=issued.digest,
                     prefix=issued.display)  # fmt: skip
        s.add(key)
        await s.flush()
        return key.id, issued.token


async def test_an_app_key_authenticates_end_to_end_and_records_its_use(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    key_id, token = await _store_key(db, tenant_id, app_id, ApiKeyKind.APP)
    records = SqlApiKeyRecords(db)

    found = await authenticate_api_key(token, records, kind="app")

    assert (found.id, found.kind, found.tenant_id, found.resource_id) == (key_id, ApiKeyKind.APP, tenant_id, app_id)
    assert found.display == f"app-…{token[-4:]}"
    async with db.session() as s:
        row = await s.get(ApiKey, key_id)
        assert row is not None and row.last_used_at is not None
        first_use = row.last_used_at
    await authenticate_api_key(token, records, kind="app")
    async with db.session() as s:
        row = await s.get(ApiKey, key_id)
        assert row is not None and row.last_used_at is not None and row.last_used_at >= first_use


async def test_a_dataset_key_opens_the_workspace_not_an_app(db: Database) -> None:
    tenant_id, _ = await workspace_with_app(db)
    _, token = await _store_key(db, tenant_id, None, ApiKeyKind.DATASET)
    records = SqlApiKeyRecords(db)

    found = await authenticate_api_key(token, records, kind="dataset")
    assert (found.kind, found.resource_id) == (ApiKeyKind.DATASET, "")
    with pytest.raises(InvalidApiKey):
        await authenticate_api_key(token, records, kind="app")


async def test_an_unknown_key_is_refused_and_nothing_is_stamped(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    key_id, _ = await _store_key(db, tenant_id, app_id, ApiKeyKind.APP)
    records = SqlApiKeyRecords(db)

    with pytest.raises(InvalidApiKey, match="Access token is invalid"):
        await authenticate_api_key(issue_api_key("app").token, records, kind="app")
    assert await records.find_api_key("0" * 64) is None
    async with db.session() as s:
        row = await s.get(ApiKey, key_id)
        assert row is not None and row.last_used_at is None
