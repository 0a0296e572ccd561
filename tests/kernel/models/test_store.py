"""The settings stores: the in-memory one and the SQLite file, behind one narrow interface."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from treadle.models import MemorySettingsStore, SettingsStore, SqliteSettingsStore, StoredCredential


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SettingsStore]:
    if request.param == "memory":
        yield MemorySettingsStore()
        return
    sqlite = SqliteSettingsStore(tmp_path / "models.db")
    yield sqlite
    sqlite.close()


def record(
    credential_id: str, tenant: str = "t1", kind: str = "model", provider: str = "p", at: float = 1.0
) -> StoredCredential:
    return StoredCredential(
        id=credential_id, tenant_id=tenant, kind=kind, provider=provider, name=f"n-{credential_id}",
        values={"api_key": "v1:cipher", "url": "http://x", "n": 3}, secret_fields=("api_key",),
        model="m" if kind == "model" else "", model_type="llm" if kind == "model" else "", created_at=at,
    )


async def test_credentials(store: SettingsStore) -> None:
    assert await store.list_credentials("t1") == []
    assert await store.get_credential("t1", "a") is None
    await store.put_credential(record("b", at=2.0))
    await store.put_credential(record("a", at=1.0))
    await store.put_credential(record("c", kind="tool", at=3.0))
    await store.put_credential(record("d", provider="q", at=4.0))
    await store.put_credential(record("e", tenant="t2"))
    assert await store.get_credential("t1", "a") == record("a", at=1.0)
    assert await store.get_credential("t2", "a") is None
    assert [r.id for r in await store.list_credentials("t1")] == ["a", "b", "c", "d"]
    assert [r.id for r in await store.list_credentials("t1", "model")] == ["a", "b", "d"]
    assert [r.id for r in await store.list_credentials("t1", "model", "p")] == ["a", "b"]
    replaced = record("a", at=1.0)
    replaced.values["url"] = "http://y"
    await store.put_credential(replaced)
    found = await store.get_credential("t1", "a")
    assert found is not None and found.values["url"] == "http://y"
    assert await store.delete_credential("t1", "a") is True
    assert await store.delete_credential("t1", "a") is False
    assert await store.get_credential("t1", "a") is None


async def test_settings(store: SettingsStore) -> None:
    assert await store.get_setting("t1", "k") is None
    await store.put_setting("t1", "k", {"a": [1, 2]})
    await store.put_setting("t2", "k", "other")
    value = await store.get_setting("t1", "k")
    assert value == {"a": [1, 2]}
    value["a"].append(3)  # callers get copies
    assert await store.get_setting("t1", "k") == {"a": [1, 2]}
    await store.put_setting("t1", "k", None)
    assert await store.get_setting("t1", "k") is None
    assert await store.get_setting("t2", "k") == "other"


async def test_the_sqlite_file_is_made_on_the_first_write_and_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "models.db"
    store = SqliteSettingsStore(path)
    assert await store.list_credentials("t1") == []
    assert await store.get_setting("t1", "k") is None
    assert not path.exists()
    await store.put_setting("t1", "k", 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = SqliteSettingsStore(path)  # another process, say
    assert await other.get_setting("t1", "k") == 1
    await store.put_setting("t1", "k", 2)
    assert await other.get_setting("t1", "k") == 2
    store.close()
    other.close()
    assert await store.get_setting("t1", "k") == 2  # opened again
    store.close()
