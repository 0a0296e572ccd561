"""Background jobs: the Dramatiq broker and worker of the server process (DESIGN.md layout)."""

from __future__ import annotations

from .queue import INDEXING_QUEUE, IndexingHandler, JobQueue, JobQueueError

__all__ = ["INDEXING_QUEUE", "IndexingHandler", "JobQueue", "JobQueueError"]
