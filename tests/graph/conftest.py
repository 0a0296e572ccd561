"""The checkpoint contract runs against every store: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.databases import migrated_database
from treadle.graph import CheckpointStore, MemoryCheckpointStore
from treadle.store import SqlCheckpointStore


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def checkpoint_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    if request.param == "memory":
        yield MemoryCheckpointStore()
        return
    async with migrated_database(request.param, tmp_path) as db:
        yield SqlCheckpointStore(db)
