"""Engine and sessions from the configuration: URLs, the embedded SQLite file and its pragmas."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
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
