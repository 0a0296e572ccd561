"""A migrated database per test, on each backend (PostgreSQL in a schema of the test's own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.databases import migrated_database
from treadle.store import Database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database at the newest revision."""
    async with migrated_database(request.param, tmp_path) as database:
        yield database
