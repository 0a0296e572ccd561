"""The KV stores behind PLUG-KV: values are bytes, scoped by plugin and tenant; SQLite keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from treadle.plugins import KVStore, MemoryKVStore, SqliteKVStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    if request.param == "memory":
        yield MemoryKVStore()
    else:
        sqlite = SqliteKVStore(tmp_path / "kv.db")
        yield sqlite
        sqlite.close()


async def test_set_get_delete(store: KVStore) -> None:
    assert await store.get("p", "t", "k") is None
    await store.set("p", "t", "k", b"one")
    assert await store.get("p", "t", "k") == b"one"
    await store.set("p", "t", "k", b"two")
    assert await store.get("p", "t", "k") == b"two"
    await store.delete("p", "t", "k")
    assert await store.get("p", "t", "k") is None
    await store.delete("p", "t", "k")  # deleting what is not there is no error


async def test_values_are_scoped_by_plugin_and_tenant(store: KVStore) -> None:
    for plugin in ("p1", "p2"):
        for tenant in ("t1", "t2"):
            await store.set(plugin, tenant, "k", f"{plugin}/{tenant}".encode())
    for plugin in ("p1", "p2"):
        for tenant in ("t1", "t2"):
            assert await store.get(plugin, tenant, "k") == f"{plugin}/{tenant}".encode()
    await store.delete("p1", "t1", "k")
    assert await store.get("p1", "t1", "k") is None
    assert await store.get("p1", "t2", "k") == b"p1/t2"
    assert await store.get("p2", "t1", "k") == b"p2/t1"


async def test_any_bytes_round_trip(store: KVStore) -> None:
    value = bytes(range(256)) * 4
    await store.set("p", "t", "binary", value)
    assert await store.get("p", "t", "binary") == value
    await store.set("p", "t", "empty", b"")
    assert await store.get("p", "t", "empty") == b""


async def test_sqlite_values_outlive_the_store_object(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    first = SqliteKVStore(path)
    await first.set("p", "t", "kept", b"value")
    await first.set("p", "t", "dropped", b"value")
    await first.delete("p", "t", "dropped")
    first.close()

    second = SqliteKVStore(path)
    try:
        assert await second.get("p", "t", "kept") == b"value"
        assert await second.get("p", "t", "dropped") is None
    finally:
        second.close()
