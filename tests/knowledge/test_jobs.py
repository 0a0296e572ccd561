"""The embedded job queue (treadle.jobs): a Dramatiq StubBroker worked by a Dramatiq worker thread
whose jobs run on the server's event loop; stopping cancels a job under way."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from support.servers import REDIS_URL
from support.waiting import eventually
from treadle.config import JobsSettings
from treadle.jobs import JobQueue, JobQueueError


async def test_jobs_run_on_the_event_loop_in_order() -> None:
    queue = JobQueue(JobsSettings())
    ran: list[tuple[str, int]] = []

    async def handler(document_id: str) -> None:
        await asyncio.sleep(0)
        ran.append((document_id, threading.get_ident()))

    queue.enqueue_indexing(["d1", "d2"])  # before the worker starts: kept in the queue
    await queue.start(handler)
    try:
        queue.enqueue_indexing(["d3"])
        await eventually(lambda: len(ran) == 3)
    finally:
        await queue.stop()
    assert [document_id for document_id, _ in ran] == ["d1", "d2", "d3"]
    assert {thread for _, thread in ran} == {threading.get_ident()}


async def test_a_failing_job_does_not_stop_the_worker() -> None:
    queue = JobQueue(JobsSettings())
    ran: list[str] = []

    async def handler(document_id: str) -> None:
        if document_id == "bad":
            raise RuntimeError("boom")
        ran.append(document_id)

    await queue.start(handler)
    try:
        queue.enqueue_indexing(["bad", "good"])
        await eventually(lambda: ran == ["good"])
    finally:
        await queue.stop()


async def test_stopping_cancels_the_job_under_way() -> None:
    queue = JobQueue(JobsSettings())
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(document_id: str) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await queue.start(handler)
    queue.enqueue_indexing(["slow"])
    await started.wait()
    await queue.stop()
    assert cancelled.is_set()
    await queue.stop()  # a second stop does nothing
    with pytest.raises(JobQueueError, match="started already"):
        started_twice = JobQueue(JobsSettings())
        await started_twice.start(handler)
        try:
            await started_twice.start(handler)
        finally:
            await started_twice.stop()


@pytest.mark.redis
async def test_processes_on_one_redis_queue_work_each_others_jobs() -> None:
    """``[jobs] broker = "redis"``: a job one process queues is worked by another (two queues on one
    Redis, as two server processes have them); another namespace sees none of it."""
    namespace = f"treadle-test-{uuid.uuid4().hex[:8]}"
    settings = JobsSettings(broker="redis", redis_url=REDIS_URL, redis_namespace=namespace)
    producer, worker, stranger = JobQueue(settings), JobQueue(settings), JobQueue(
        JobsSettings(broker="redis", redis_url=REDIS_URL, redis_namespace=namespace + "-other"))
    ran: list[str] = []
    seen_by_stranger: list[str] = []

    async def handler(document_id: str) -> None:
        ran.append(document_id)

    async def stranger_handler(document_id: str) -> None:
        seen_by_stranger.append(document_id)

    await worker.start(handler)
    await stranger.start(stranger_handler)
    try:
        producer.enqueue_indexing(["d1", "d2"])
        await eventually(lambda: sorted(ran) == ["d1", "d2"])
    finally:
        await worker.stop()
        await stranger.stop()
        producer.broker.close()
    assert seen_by_stranger == []
