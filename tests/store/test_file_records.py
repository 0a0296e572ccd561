"""SqlFileRecordStore keeps the file service's records in ``upload_files``, as the in-memory store does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from treadle.files import FileRecord
from treadle.store import Database, SqlFileRecordStore, UploadFile

from .worlds import workspace_with_app


def _record(tenant_id: str, file_id: str = "f0000000-0000-4000-8000-000000000001", **changes: str) -> FileRecord:
    fields = {
        "id": file_id,
        "tenant_id": tenant_id,
        "storage_key": f"upload_files/{tenant_id}/{file_id}.pdf",
        "name": "report.pdf",
        "size": 1234,
        "extension": ".pdf",
        "mime_type": "application/pdf",
        "hash": "ab" * 32,
        "created_by": "user-1",
        "created_by_role": "end_user",
        "created_at": datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC),
        "source_url": "https://example.com/report.pdf",
    }
    fields.update(changes)
    return FileRecord(**fields)  # type: ignore[arg-type]


async def test_a_record_round_trips_and_is_deleted(db: Database) -> None:
    tenant_id, _ = await workspace_with_app(db)
    store = SqlFileRecordStore(db)
    record = _record(tenant_id)
    await store.add(record)

    assert await store.get(record.id) == record
    async with db.session() as s:
        row = await s.get(UploadFile, record.id)
        assert row is not None and row.storage_key == record.storage_key

    await store.delete(record.id)
    assert await store.get(record.id) is None
    await store.delete(record.id)  # forgetting twice is fine


async def test_unknown_id_is_none(db: Database) -> None:
    assert await SqlFileRecordStore(db).get("no-such-file") is None


async def test_a_taken_id_or_storage_key_is_refused_with_the_id(db: Database) -> None:
    tenant_id, _ = await workspace_with_app(db)
    store = SqlFileRecordStore(db)
    await store.add(_record(tenant_id))
    with pytest.raises(ValueError, match="f0000000-0000-4000-8000-000000000001"):
        await store.add(_record(tenant_id, storage_key="elsewhere"))
    first_key = _record(tenant_id).storage_key
    with pytest.raises(ValueError, match="storage key"):
        await store.add(_record(tenant_id, "f0000000-0000-4000-8000-000000000002", storage_key=first_key))


async def test_a_record_of_a_missing_workspace_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        await SqlFileRecordStore(db).add(_record("no-such-tenant"))
