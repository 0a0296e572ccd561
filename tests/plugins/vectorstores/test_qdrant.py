"""What only the Qdrant store does: point ids, local mode in memory, and its configuration."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from qdrant_client import QdrantClient
from treadle_qdrant_store import ID_NAMESPACE, point_id
from treadle_sdk.errors import PluginInvalidArgument

from .conftest import StoreUnderTest


async def test_points_are_named_by_the_uuid5_of_the_record_id(tmp_path: Path) -> None:
    store = StoreUnderTest("qdrant", {"path": str(tmp_path)})
    await store.call("create_collection", dimension=2)
    await store.call("upsert", records=[{"id": "doc-1:chunk-7", "vector": [1, 2], "text": "t", "metadata": {"a": 1}}])
    await store.close()
    client = QdrantClient(path=str(tmp_path))
    try:
        [point] = client.retrieve("docs", ids=[point_id("doc-1:chunk-7")])
    finally:
        client.close()
    assert point.payload == {"id": "doc-1:chunk-7", "text": "t", "metadata": {"a": 1}}
    # Pinned: another namespace would orphan every point already stored.
    assert point_id("doc-1:chunk-7") == str(uuid.uuid5(ID_NAMESPACE, "doc-1:chunk-7"))
    assert point_id("doc-1:chunk-7") == "205f9b74-f52a-5a94-8f30-c63e6b0e6a2f"


async def test_local_mode_in_memory() -> None:
    store = StoreUnderTest("qdrant", {"location": ":memory:"})
    try:
        await store.call("create_collection", dimension=2)
        await store.call("upsert", records=[{"id": "a", "vector": [1, 0]}, {"id": "b", "vector": [0, 1]}])
        assert [h.id for h in await store.call("search", vector=[1, 0.1])] == ["a", "b"]
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "give exactly one of 'url', 'path' or 'location', not none"),
        ({"url": "http://localhost:6333", "path": "/tmp/q"}, r"not \['url', 'path'\]"),
        ({"location": "localhost"}, "'location' can only be ':memory:'"),
        ({"path": "/tmp/q", "collection_prefix": "x"}, r"config\.collection_prefix: Extra inputs"),
    ],
)
async def test_the_config_names_one_place(config: dict[str, str], message: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=message):
        await StoreUnderTest("qdrant", config).call("count")
