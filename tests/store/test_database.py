"""Engine and sessions from the configuration: URLs, the embedded SQLite file and its pragmas."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from treadle.config import Settings
from treadle.store import Database, DatabaseURLError, Tenant, async_url, upgrade_to_head


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/t.db", "sqlite+aiosqlite:///data/t.db"),
        ("sqlite+aiosqlite:///t.db", "sqlite+aiosqlite:///t.db"),
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_urls_get_their_async_driver(url: str, expected: str) -> None:
    assert async_url(url).render_as_string() == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "driver 'psycopg2' is not async"),
        ("not a url", "not a database URL"),
    ],
)
def test_urls_the_store_cannot_use_are_refused_by_name(url: str, reason: str) -> None:
    with pytest.raises(DatabaseURLError, match=reason) as caught:
        async_url(url)
    assert caught.value.url == url


def test_a_schema_is_a_postgresql_choice() -> None:
    with pytest.raises(DatabaseURLError, match="only be chosen on PostgreSQL"):
        Database("sqlite:///x.db", schema="s")


async def test_an_empty_url_means_the_embedded_file_in_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    await upgrade_to_head(settings)
    assert (tmp_path / "home" / "treadle.db").is_file()
    async with Database.from_settings(settings) as db:
        async with db.session() as session:
            journal = await session.scalar(text("PRAGMA journal_mode"))
            foreign_keys = await session.scalar(text("PRAGMA foreign_keys"))
        assert (db.dialect, journal, foreign_keys) == ("sqlite", "wal", 1)


async def test_a_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    async with db.session() as session:
        session.add(Tenant(name="kept"))
    with pytest.raises(RuntimeError, match="boom"):
        async with db.session() as session:
            session.add(Tenant(name="dropped"))
            await session.flush()
            raise RuntimeError("boom")
    async with db.session() as session:
        names = list(await session.scalars(text("SELECT name FROM tenants")))
    assert names == ["kept"]


async def test_read_runs_a_synchronous_read_in_one_step_and_refuses_writes_on_sqlite(db: Database) -> None:
    """Database.read (the retrieval's hot reads): sees what was committed; on SQLite it runs in a
    worker thread on a query-only connection, so a write there is an error, not a silent change."""
    async with db.session() as session:
        session.add(Tenant(name="committed"))

    def names(connection: Connection) -> tuple[list[str], bool]:
        rows = list(connection.scalars(text("SELECT name FROM tenants")))
        return rows, threading.current_thread() is threading.main_thread()

    rows, on_main_thread = await db.read(names)
    assert rows == ["committed"]
    assert on_main_thread == (db.dialect != "sqlite")
    if db.dialect == "sqlite":
        with pytest.raises(OperationalError, match="readonly"):
            await db.read(lambda connection: connection.execute(text("DELETE FROM tenants")))
        async with db.session() as session:
            assert list(await session.scalars(text("SELECT name FROM tenants"))) == ["committed"]


async def test_read_on_an_in_memory_sqlite_database_uses_its_own_connection() -> None:
    """Another connection would see another (empty) in-memory database: read runs on the engine's."""
    async with Database("sqlite://") as db:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (7)"))
        assert await db.read(lambda connection: connection.scalar(text("SELECT x FROM t"))) == 7
