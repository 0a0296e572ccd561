"""Alembic: the initial revision builds every table on SQLite and PostgreSQL and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from support.databases import drop_schema, postgres_database, sqlite_database
from treadle.store import Base, Database, current_revision, drift, head_revision, upgrade_to_head


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _check_fresh_upgrade(db: Database) -> None:
    assert await current_revision(db) is None
    await upgrade_to_head(db)
    assert await current_revision(db) == head_revision()
    assert await _tables(db) == {*Base.metadata.tables, "alembic_version"}
    assert await drift(db) == []
    # A second upgrade finds nothing to do.
    await upgrade_to_head(db)
    assert await current_revision(db) == head_revision()


async def test_migrations_build_the_models_on_sqlite(tmp_path: Path) -> None:
    db = await sqlite_database(tmp_path, migrate=False)
    try:
        await _check_fresh_upgrade(db)
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_migrations_build_the_models_on_postgresql() -> None:
    db, schema = await postgres_database(migrate=False)
    try:
        await _check_fresh_upgrade(db)
    finally:
        await db.dispose()
        await drop_schema(schema)


async def test_drift_sees_a_table_the_migrations_lack(tmp_path: Path) -> None:
    """The drift check can fail: a database missing a table is reported."""
    db = await sqlite_database(tmp_path)
    try:
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE annotations")
        changes = await drift(db)
        assert ("add_table", "annotations") in [(c[0], c[1].name) for c in changes if c[0] == "add_table"]
    finally:
        await db.dispose()
