"""The query log (KB-TEST-RETRIEVAL's Records and hit counts) is written in the background: the
retrievals of a ``delay`` share one transaction, ``flush`` writes at once, and nothing handed in is
lost. The log's INSERT statements are counted with SQLAlchemy's engine events on the real database
(an ``executemany`` is one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from support.databases import migrated_database
from support.waiting import eventually
from treadle.knowledge.query_log import QueryLog
from treadle.store import Database, DatasetQuery, DocumentSegment, new_id, utcnow

from .retrieval_rows import DocumentRows, add_dataset, add_document, add_tenant


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Database, str, DocumentRows, list[int]]]:
    async with migrated_database("sqlite", tmp_path) as db:
        tenant_id = await add_tenant(db)
        dataset = await add_dataset(db, tenant_id, "Docs")
        rows = await add_document(db, dataset, "a.md", ["one", "two"])
        writes: list[int] = []

        def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if statement.startswith("INSERT INTO dataset_queries"):
                writes.append(len(parameters) if many else 1)

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        yield db, dataset.id, rows, writes


def _row(dataset_id: str, query: str) -> dict[str, Any]:
    return {"id": new_id(), "dataset_id": dataset_id, "content": query, "source": "api", "source_app_id": None,
            "created_by_role": "account", "created_by": None, "created_at": utcnow()}  # fmt: skip


async def _written(db: Database) -> tuple[list[str], list[int]]:
    async with db.session() as s:
        queries = list(await s.scalars(select(DatasetQuery.content).order_by(DatasetQuery.created_at)))
        hits = list(await s.scalars(select(DocumentSegment.hit_count).order_by(DocumentSegment.position)))
    return queries, hits


async def test_retrievals_within_the_delay_share_one_write_and_flush_writes_at_once(world: Any) -> None:
    db, dataset_id, rows, writes = world
    log = QueryLog(db, delay=30.0)
    first, second = rows.segment_ids
    for query, hit in (("q1", [first]), ("q2", [first, second]), ("q3", [first])):
        log.add([_row(dataset_id, query)], hit)
    await asyncio.sleep(0.05)
    assert await _written(db) == ([], [0, 0]) and writes == []  # gathering, not written yet
    started = time.monotonic()
    await log.flush()
    assert time.monotonic() - started < 10  # flush does not wait out the delay
    assert writes == [3]  # one statement for the three
    assert await _written(db) == (["q1", "q2", "q3"], [3, 1])


async def test_without_a_flush_the_writer_writes_after_the_delay(world: Any) -> None:
    db, dataset_id, rows, writes = world
    log = QueryLog(db, delay=0.2)
    log.add([_row(dataset_id, "later")], rows.segment_ids[:1])
    await eventually(lambda: writes)  # the writer's own delay: no flush waited for
    assert await _written(db) == (["later"], [1, 0])
    # Added after a write: a new writer gathers it.
    log.add([_row(dataset_id, "again")], rows.segment_ids[1:])
    await log.flush()
    assert await _written(db) == (["later", "again"], [1, 1]) and writes == [1, 1]
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(DatasetQuery)) == 2
