"""Fixtures of the file tests: the local storage backend inline under a temporary home, and a file
service over it with in-memory records and a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from treadle.config import Settings
from treadle.files import FileService, FileSigner, MemoryFileRecordStore, PluginStorage, UploadLimits
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor

SECRET = b"s" * 32
NOW = 1_700_000_000.0


class Clock:
    """Seconds since the epoch, moved by the tests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[PluginSupervisor]:
    settings = Settings.load(home=tmp_path)
    groups = [GroupPlan("inline", True, (PluginSpec("local-storage"),))]
    async with PluginSupervisor(settings, groups=groups) as running:
        yield running


def make_service(supervisor: PluginSupervisor, clock: Clock, limits: UploadLimits | None = None) -> FileService:
    return FileService(
        PluginStorage(supervisor, supervisor.settings.storage.backend, home=supervisor.settings.home),
        MemoryFileRecordStore(),
        FileSigner(SECRET, clock=clock),
        limits=limits,
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
    )


@pytest.fixture
def service(supervisor: PluginSupervisor, clock: Clock) -> FileService:
    return make_service(supervisor, clock)
