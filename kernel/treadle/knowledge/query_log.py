"""The record of retrievals (KB-TEST-RETRIEVAL's Records, and each segment's hit count), written off
the request path.

A retrieval hands its rows to :class:`QueryLog` and returns; one background task writes whatever has
gathered, many retrievals in one transaction (an ``executemany`` of the log rows, one UPDATE per
distinct hit increment). The writer waits ``delay`` seconds (:data:`WRITE_DELAY`) after the first
row before it writes, so retrievals that follow one another share a write instead of each paying
for one while the next query runs: the write cost (a transaction, several ORM round trips) was the
largest single part of a query's latency. :meth:`QueryLog.flush` writes at once and waits until
everything handed in so far is written; the knowledge runtime flushes before it stops, and tests
flush before they read the log. A failed write is logged and dropped: a missing log row must not
fail a search.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, update

from ..store import Database, DatasetQuery, DocumentSegment

__all__ = ["QueryLog"]

log = logging.getLogger(__name__)

#: Seconds the writer gathers retrievals before writing them (the log and hit counts lag this much).
WRITE_DELAY = 1.0


class QueryLog:
    """Query log rows and hit counts of the retrievals over ``db``, written in the background."""

    def __init__(self, db: Database, *, delay: float = WRITE_DELAY) -> None:
        self.db = db
        self.delay = delay
        self._rows: list[dict[str, Any]] = []
        self._hits: Counter[str] = Counter()
        self._writer: asyncio.Task[None] | None = None
        self._now = asyncio.Event()

    def add(self, rows: Sequence[dict[str, Any]], segment_ids: Sequence[str]) -> None:
        """Record ``rows`` (DatasetQuery columns) and one hit on each of ``segment_ids``."""
        self._rows.extend(rows)
        self._hits.update(segment_ids)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def flush(self) -> None:
        """Write what has gathered now, and wait until everything added so far is written (or
        dropped after a logged failure)."""
        self._now.set()
        try:
            while self._writer is not None and not self._writer.done():
                await asyncio.shield(self._writer)
        finally:
            if self._writer is None or self._writer.done():
                self._now.clear()

    async def _write(self) -> None:
        if self.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._now.wait(), self.delay)
        while self._rows or self._hits:
            rows, hits = self._rows, self._hits
            self._rows, self._hits = [], Counter()
            by_increment: defaultdict[int, list[str]] = defaultdict(list)
            for segment_id, count in hits.items():
                by_increment[count].append(segment_id)
            try:
                async with self.db.session() as session:
                    if rows:
                        await session.execute(insert(DatasetQuery), rows)
                    for increment, segment_ids in sorted(by_increment.items()):
                        await session.execute(
                            update(DocumentSegment).where(DocumentSegment.id.in_(segment_ids))
                            .values(hit_count=DocumentSegment.hit_count + increment)
                            .execution_options(synchronize_session=False)
                        )  # fmt: skip
            except Exception:  # the log is best effort; the searches have answered
                log.exception("could not write %d retrieval log rows and %d hit counts", len(rows), len(hits))
