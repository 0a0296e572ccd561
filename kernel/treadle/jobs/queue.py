"""The background job queue: Dramatiq, embedded in the server process or on Redis (DESIGN.md, "Data,
jobs and scale").

``[jobs] broker = "inline"`` (the default) keeps the queue in memory (Dramatiq's ``StubBroker``) and
works it with a Dramatiq worker thread of the server process; ``"redis"`` puts it on Redis
(``[jobs] redis_url``, keys under ``redis_namespace``), so that every server process on the same
Redis shares one queue. Either way the jobs are the kernel's async code: the worker thread hands each one
to the server's event loop and waits for it, so a job uses the loop's database engine and plugin
supervisor like a request does. One job runs at a time per process (Dify's
TENANT_ISOLATED_TASK_CONCURRENCY is 1).

An in-memory queue is lost when the process dies; the work it held is found again from the
database at startup (:meth:`treadle.knowledge.indexing.IndexingService.recover`). A ``treadle
worker`` command working the Redis queue outside the server is not there yet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries

from ..config import JobsSettings

__all__ = ["INDEXING_QUEUE", "IndexingHandler", "JobQueue", "JobQueueError"]

#: The queue of document indexing jobs (one queue per workload class).
INDEXING_QUEUE = "indexing"
_INDEXING_ACTOR = "treadle.index_document"
#: How often an idle worker thread looks for shutdown (milliseconds).
_WORKER_TIMEOUT_MS = 250

IndexingHandler = Callable[[str], Awaitable[None]]

log = logging.getLogger(__name__)


class JobQueueError(RuntimeError):
    """The job queue cannot be set up or used; the message says which setting or call."""


class JobQueue:
    """Background jobs of one server process: ``enqueue_*`` adds work, :meth:`start` works it.

    Jobs never fail in Dramatiq's sense (no retries): a handler records its own errors where users
    see them (a document's ``error``), and an exception that escapes it is logged.
    """

    def __init__(self, settings: JobsSettings) -> None:
        self.settings = settings
        self.broker = self._make_broker(settings)
        declare = dramatiq.actor(broker=self.broker, actor_name=_INDEXING_ACTOR, queue_name=INDEXING_QUEUE,
                                 max_retries=0)
        self._actor: dramatiq.Actor[[str], None] = declare(self._run_indexing)
        self._worker: dramatiq.Worker | None = None
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._indexing: IndexingHandler | None = None
        self._running: set[concurrent.futures.Future[None]] = set()
        self._stopping = False
        self._lock = threading.Lock()

    @staticmethod
    def _make_broker(settings: JobsSettings) -> dramatiq.Broker:
        # No TimeLimit middleware: indexing a large document may take longer than any fixed limit.
        middleware = [AgeLimit(), Callbacks(), Pipelines(), Retries(max_retries=0)]
        if settings.broker == "inline":
            return StubBroker(middleware=middleware)
        try:
            from dramatiq.brokers.redis import RedisBroker
        except ImportError as exc:
            raise JobQueueError(
                f"[jobs] broker = 'redis' needs the redis package (pip install redis): {exc}"
            ) from None
        return RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.redis_url, namespace=settings.redis_namespace, middleware=middleware
        )

    # -- working -------------------------------------------------------------------------------------

    async def start(self, indexing: IndexingHandler) -> None:
        """Work the queue on this event loop: ``indexing(document_id)`` runs each indexing job.

        The in-memory queue gets its worker thread with its first job: a process that never indexes
        (most test servers, a CLI command) then never pays for the thread or for stopping it (a
        Dramatiq worker takes its poll timeout to stop). A Redis queue is worked at once: other
        processes put jobs on it."""
        if self._started:
            raise JobQueueError("the job queue is started already")
        self._started = True
        self._loop = asyncio.get_running_loop()
        self._indexing = indexing
        if self.settings.broker != "inline":
            self._start_worker()

    def _start_worker(self) -> None:
        self._worker = dramatiq.Worker(
            self.broker, queues={INDEXING_QUEUE}, worker_threads=1, worker_timeout=_WORKER_TIMEOUT_MS
        )
        self._worker.start()

    async def stop(self) -> None:
        """Stop working the queue. Jobs under way are cancelled: what they finished is saved, and
        the rest is found again at the next start."""
        if not self._started:
            return
        self._started = False
        with self._lock:
            self._stopping = True
            worker, self._worker = self._worker, None
            running = list(self._running)
        for future in running:
            future.cancel()
        if worker is not None:
            await asyncio.to_thread(worker.stop, 10_000)
        self.broker.close()

    # -- adding work ---------------------------------------------------------------------------------

    def enqueue_indexing(self, document_ids: Sequence[str]) -> None:
        """Queue the indexing of each document (each is one job)."""
        with self._lock:
            if self._worker is None and self._started and not self._stopping:
                self._start_worker()
        for document_id in document_ids:
            self._actor.send(document_id)

    # -- the actors (worker threads) ------------------------------------------------------------------

    def _run_indexing(self, document_id: str) -> None:
        self._hand_to_loop(self._indexing, document_id)

    def _hand_to_loop(self, handler: Callable[[str], Awaitable[Any]] | None, argument: str) -> None:
        loop = self._loop
        if handler is None or loop is None or loop.is_closed():
            log.warning("job for %s dropped: the job queue is not started", argument)
            return

        async def run() -> None:
            await handler(argument)

        with self._lock:
            if self._stopping:
                return  # left for the next start to find (recovery)
            future = asyncio.run_coroutine_threadsafe(run(), loop)
            self._running.add(future)
        try:
            future.result()
        except concurrent.futures.CancelledError:
            log.info("job for %s cancelled (the server is stopping)", argument)
        except Exception:
            log.exception("job for %s failed", argument)
        finally:
            with self._lock:
                self._running.discard(future)
