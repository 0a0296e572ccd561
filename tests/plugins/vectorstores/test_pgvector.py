"""What only the pgvector store does: its table and indexes, its configuration, and the errors a
PostgreSQL without pgvector (or without a server) gives."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from support.servers import POSTGRES_URL
from treadle_pgvector_store.statements import CollectionTables
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument

from .conftest import StoreUnderTest, drop_tables


@pytest.fixture
async def pg_store(pgvector_dsn: str) -> AsyncIterator[StoreUnderTest]:
    store = StoreUnderTest("pgvector", {"dsn": pgvector_dsn, "table_prefix": f"t{uuid.uuid4().hex[:10]}_"})
    yield store
    await store.close()
    drop_tables(store.config)


async def test_a_collection_is_a_table_with_an_hnsw_cosine_index(pg_store: StoreUnderTest) -> None:
    await pg_store.call("create_collection", dimension=3)
    table = CollectionTables.of(pg_store.config["table_prefix"], "docs").name
    with psycopg.connect(pg_store.config["dsn"]) as connection:
        columns = connection.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns"
            " JOIN pg_attribute ON attrelid = to_regclass(quote_ident(table_name)) AND attname = column_name"
            " WHERE table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        indexes = [
            row[0] for row in connection.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", (table,))
        ]
    assert columns == [("id", "text"), ("embedding", "vector(3)"), ("text", "text"), ("metadata", "jsonb")]
    assert any("USING hnsw (embedding vector_cosine_ops)" in index for index in indexes)
    assert any("USING gin (metadata jsonb_path_ops)" in index for index in indexes)


async def test_long_collection_names_fit_postgresql_identifiers() -> None:
    first, second = (
        CollectionTables.of("treadle_vectors_", "a" * 120),
        CollectionTables.of("treadle_vectors_", "a" * 121),
    )
    assert len(first.name) == len(second.name) == 63 and first.name != second.name
    assert CollectionTables.of("p_", "Docs").name == "p_Docs"


async def test_text_with_a_nul_character_is_refused_by_record(pg_store: StoreUnderTest) -> None:
    await pg_store.call("create_collection", dimension=2)
    with pytest.raises(PluginInvalidArgument, match="record 'bad' holds a NUL character"):
        await pg_store.call(
            "upsert", records=[{"id": "ok", "vector": [1, 0]}, {"id": "bad", "vector": [1, 1], "text": "a\x00b"}]
        )
    assert await pg_store.call("count") == 0


async def test_the_dsn_is_required_and_the_prefix_checked() -> None:
    with pytest.raises(PluginInvalidArgument, match=r"bad pgvector store config at config\.dsn: Field required"):
        await StoreUnderTest("pgvector", {}).call("count")
    with pytest.raises(PluginInvalidArgument, match=r"config\.table_prefix: String should match pattern"):
        await StoreUnderTest("pgvector", {"dsn": "postgresql://x", "table_prefix": "bad-prefix"}).call("count")


async def test_an_unreachable_server_fails_naming_it_without_the_password() -> None:
    store = StoreUnderTest("pgvector", {"dsn": "postgresql://someone:secret@127.0.0.1:1/kb"})
    with pytest.raises(PluginFailed, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1/kb") as caught:
        await store.call("count")
    assert "secret" not in str(caught.value)


@pytest.mark.postgres
async def test_a_server_without_pgvector_says_so() -> None:
    """The machine's PostgreSQL, when it lacks the extension (as the development VM's does)."""
    with psycopg.connect(POSTGRES_URL) as connection:
        if connection.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
            pytest.skip(f"the server at {POSTGRES_URL} has pgvector")
    store = StoreUnderTest("pgvector", {"dsn": POSTGRES_URL})
    try:
        with pytest.raises(PluginFailed, match=r"cannot use pgvector: extension \"vector\" is not available") as caught:
            await store.call("create_collection", dimension=3)
        assert "Install the pgvector extension" in caught.value.message
        assert caught.value.details["sqlstate"] == "0A000"
    finally:
        await store.close()
