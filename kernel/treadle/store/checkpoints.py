"""The engine's checkpoint port (:class:`treadle.graph.CheckpointStore`) over the ``workflow_checkpoints`` table."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..graph import Checkpoint
from .database import Database
from .errors import CheckpointEncodingError
from .runs import CheckpointRecord
from .types import utcnow

__all__ = ["SqlCheckpointStore"]


def _plain(value: Any, run_id: str, path: str) -> Any:
    """``value`` as JSON data (tuples become lists); anything JSON cannot hold is refused with its path."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CheckpointEncodingError(run_id, path, f"non-finite float ({value})")
        return value
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointEncodingError(run_id, f"{path} (key {key!r})", f"{type(key).__name__} key")
            plain[key] = _plain(item, run_id, f"{path}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item, run_id, f"{path}[{i}]") for i, item in enumerate(value)]
    raise CheckpointEncodingError(run_id, path, type(value).__name__)


class SqlCheckpointStore:
    """Keeps each run's latest checkpoint in the database; a new save replaces the previous one.

    Values go through JSON, so a tuple in the variable pool comes back as a list.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(self, checkpoint: Checkpoint) -> None:
        data = _plain(dataclasses.asdict(checkpoint), checkpoint.run_id, "checkpoint")
        now = utcnow()
        row = {
            "run_id": checkpoint.run_id,
            "status": checkpoint.status,
            "version": checkpoint.version,
            "data": data,
            "created_at": now,
            "updated_at": now,
        }
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        statement = insert(CheckpointRecord).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[CheckpointRecord.run_id],
            set_={"status": checkpoint.status, "version": checkpoint.version, "data": data, "updated_at": now},
        )
        async with self._db.session() as session:
            await session.execute(statement)

    async def load(self, run_id: str) -> Checkpoint | None:
        async with self._db.session() as session:
            data = await session.scalar(select(CheckpointRecord.data).where(CheckpointRecord.run_id == run_id))
        return Checkpoint(**data) if data is not None else None

    async def delete(self, run_id: str) -> None:
        """Forget a run's checkpoint (once the run has ended for good)."""
        async with self._db.session() as session:
            record = await session.get(CheckpointRecord, run_id)
            if record is not None:
                await session.delete(record)
