"""Migrated databases for tests: a SQLite file, or a PostgreSQL schema of a test's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from treadle.store import Database, upgrade_to_head

from support.servers import POSTGRES_URL


async def _execute(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def sqlite_database(tmp_path: Path, *, migrate: bool = True) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'treadle.db'}")
    if migrate:
        await upgrade_to_head(db)
    return db


async def postgres_database(*, migrate: bool = True) -> tuple[Database, str]:
    """A database whose tables live in a new schema, so tests run in parallel; drop it with :func:`drop_schema`."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    await _execute(f'CREATE SCHEMA "{schema}"')
    db = Database(POSTGRES_URL, schema=schema)
    if migrate:
        await upgrade_to_head(db)
    return db, schema


async def drop_schema(schema: str) -> None:
    await _execute(f'DROP SCHEMA "{schema}" CASCADE')


@asynccontextmanager
async def migrated_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A database at the newest revision on ``backend`` (``sqlite`` or ``postgres``), removed afterwards."""
    if backend == "sqlite":
        db = await sqlite_database(tmp_path)
        try:
            yield db
        finally:
            await db.dispose()
        return
    db, schema = await postgres_database()
    try:
        yield db
    finally:
        await db.dispose()
        await drop_schema(schema)
