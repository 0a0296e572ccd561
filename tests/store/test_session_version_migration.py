"""Revision 0002 adds ``accounts.session_version``; accounts made before it start at version 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, select
from support.databases import migrated_database
from treadle.store import Account, Database, current_revision, head_revision, upgrade_to_head
from treadle.store.migrate import alembic_config


async def _to(db: Database, revision: str) -> None:
    def run(sync: Connection) -> None:
        command.downgrade(alembic_config(sync), revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_existing_accounts_get_session_version_1(backend: str, tmp_path: Path) -> None:
    async with migrated_database(backend, tmp_path) as db:
        await _to(db, "0001")
        assert await current_revision(db) == "0001"
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO accounts (id, email, name, status, interface_language, timezone, created_at, updated_at)"
                " VALUES ('a1', 'ann@example.com', 'Ann', 'active', 'en-US', 'UTC',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        await upgrade_to_head(db)
        assert await current_revision(db) == head_revision()
        async with db.session() as s:
            assert await s.scalar(select(Account.session_version).where(Account.id == "a1")) == 1
            s.add(Account(id="a2", email="bob@example.com", name="Bob"))
        async with db.session() as s:
            bob = await s.get(Account, "a2")
            assert bob is not None and bob.session_version == 1
            bob.session_version += 1
        async with db.session() as s:
            assert await s.scalar(select(Account.session_version).where(Account.id == "a2")) == 2
