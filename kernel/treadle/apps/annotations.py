"""Annotation reply (FEAT annotation reply, API-ANN-REPLY-CFG): answer a query with a curated
annotation instead of the model, when the query is close enough to the annotation's question.

:class:`AnnotationReply` keeps an app's reply settings and the embeddings of its annotations'
questions, made with the embedding model the app chose (through the kernel client's
``ainvoke_text_embedding``), and finds the best annotation for a query by cosine similarity.
:class:`AnnotationJobs` runs the enable and disable work in the background, as Dify does, and records
each job's status in the database for the status endpoint (any server process answers it). Nothing
here speaks HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..store import Annotation, AnnotationEmbedding, AnnotationJobRecord, AnnotationSetting, Database, utcnow

__all__ = [
    "AnnotationJob",
    "AnnotationJobs",
    "AnnotationMatch",
    "AnnotationReply",
    "EmbeddingClient",
    "JobStatus",
    "ReplySettings",
    "normalise_question",
]

log = logging.getLogger(__name__)

JobStatus = Literal["waiting", "processing", "completed", "error"]
#: How many texts one embedding call carries.
_BATCH = 32
_JOB_STATUSES: tuple[JobStatus, ...] = ("waiting", "processing", "completed", "error")
#: How long a finished job is kept for the status endpoint.
_JOB_TTL = timedelta(days=1)


class EmbeddingClient(Protocol):
    """What annotation reply needs of the kernel client: text embeddings."""

    async def ainvoke_text_embedding(
        self, provider: str, model: str, texts: Sequence[str], *, input_type: str = "document"
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class ReplySettings:
    """An app's annotation reply settings."""

    enabled: bool
    score_threshold: float
    embedding_provider_name: str
    embedding_model_name: str


@dataclass(frozen=True, slots=True)
class AnnotationMatch:
    """The annotation a query matched: what the run answers with, and how close it was."""

    id: str
    question: str
    answer: str
    #: Cosine similarity of the query and the question, in [-1, 1].
    score: float
    #: Hits so far, this one included.
    hit_count: int
    created_by: str | None


def normalise_question(text: str) -> str:
    """``text`` with its whitespace collapsed: a stray space or newline does not change what is asked."""
    return " ".join(text.split())


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class AnnotationReply:
    """Annotation reply for the apps of one database: settings, question embeddings and matching."""

    def __init__(self, db: Database, *, batch_size: int = _BATCH) -> None:
        self.db = db
        self.batch_size = batch_size

    # -- settings ------------------------------------------------------------------------------------

    async def settings(self, tenant_id: str, app_id: str) -> ReplySettings | None:
        """The app's reply settings, or None when it never had any."""
        async with self.db.session() as session:
            row = await _setting(session, tenant_id, app_id)
        if row is None:
            return None
        return ReplySettings(row.enabled, row.score_threshold, row.embedding_provider_name, row.embedding_model_name)

    async def enable(
        self, tenant_id: str, app_id: str, *, provider: str, model: str, score_threshold: float,
        kernel: EmbeddingClient,
    ) -> int:
        """Embed every annotation of the app with ``provider``/``model`` and switch reply on with
        ``score_threshold``; how many annotations were embedded now. Nothing changes when the model
        fails, so a failed enable leaves the previous settings in force."""
        if not 0 <= score_threshold <= 1:
            raise ValueError(f"score_threshold must be between 0 and 1, got {score_threshold}")
        embedded = await self._embed_stale(tenant_id, app_id, provider, model, kernel, None)
        async with self.db.session() as session:
            row = await _setting(session, tenant_id, app_id)
            if row is None:
                row = AnnotationSetting(tenant_id=tenant_id, app_id=app_id)
                session.add(row)
            row.enabled = True
            row.score_threshold = score_threshold
            row.embedding_provider_name = provider
            row.embedding_model_name = model
            # Vectors of another model cannot be compared with this one's.
            await session.execute(delete(AnnotationEmbedding).where(
                AnnotationEmbedding.app_id == app_id,
                (AnnotationEmbedding.provider != provider) | (AnnotationEmbedding.model != model),
            ))
        return embedded

    async def disable(self, tenant_id: str, app_id: str) -> None:
        """Switch reply off and drop the app's question embeddings (the settings row is kept)."""
        async with self.db.session() as session:
            row = await _setting(session, tenant_id, app_id)
            if row is not None:
                row.enabled = False
            await session.execute(delete(AnnotationEmbedding).where(AnnotationEmbedding.app_id == app_id))

    # -- embeddings ----------------------------------------------------------------------------------

    async def index(self, tenant_id: str, app_id: str, kernel: EmbeddingClient,
                    annotation_ids: Iterable[str] | None = None) -> int:
        """Embed the app's annotations whose vectors are missing or stale (all of them, or those of
        ``annotation_ids``) with the configured model; how many were embedded. Does nothing when
        reply is off."""
        settings = await self.settings(tenant_id, app_id)
        if settings is None or not settings.enabled:
            return 0
        ids = None if annotation_ids is None else set(annotation_ids)
        return await self._embed_stale(
            tenant_id, app_id, settings.embedding_provider_name, settings.embedding_model_name, kernel, ids
        )

    async def _embed_stale(self, tenant_id: str, app_id: str, provider: str, model: str,
                           kernel: EmbeddingClient, only: set[str] | None) -> int:
        async with self.db.session() as session:
            stale = await _stale(session, app_id, provider, model, only)
        if not stale:
            return 0
        vectors: list[list[float]] = []
        for start in range(0, len(stale), self.batch_size):
            batch = stale[start:start + self.batch_size]
            vectors.extend(await _embed(kernel, provider, model, [q for _, q in batch], "document"))
        async with self.db.session() as session:
            present = set(await session.scalars(
                select(Annotation.id).where(Annotation.app_id == app_id, Annotation.id.in_([i for i, _ in stale]))
            ))
            for (annotation_id, question), vector in zip(stale, vectors, strict=True):
                if annotation_id not in present:
                    continue  # deleted while it was being embedded
                row = await session.get(AnnotationEmbedding, annotation_id)
                if row is None:
                    row = AnnotationEmbedding(annotation_id=annotation_id, app_id=app_id)
                    session.add(row)
                row.provider, row.model, row.question_hash, row.vector = provider, model, _hash(question), vector
        return len(stale)

    # -- matching ------------------------------------------------------------------------------------

    async def match(self, tenant_id: str, app_id: str, query: str, kernel: EmbeddingClient) -> AnnotationMatch | None:
        """The app's annotation whose question is most similar to ``query``, if that similarity is at
        least the app's ``score_threshold``; its ``hit_count`` goes up by one. None when reply is
        off, the app has no annotations, or none is close enough.

        Annotations added or edited since they were last embedded are embedded first.
        """
        settings = await self.settings(tenant_id, app_id)
        text = normalise_question(query)
        if settings is None or not settings.enabled or not text:
            return None
        provider, model = settings.embedding_provider_name, settings.embedding_model_name
        await self._embed_stale(tenant_id, app_id, provider, model, kernel, None)
        async with self.db.session() as session:
            rows = (await session.execute(
                select(AnnotationEmbedding.annotation_id, AnnotationEmbedding.vector)
                .join(Annotation, Annotation.id == AnnotationEmbedding.annotation_id)
                .where(AnnotationEmbedding.app_id == app_id, AnnotationEmbedding.provider == provider,
                       AnnotationEmbedding.model == model)
            )).all()
        if not rows:
            return None
        (vector,) = await _embed(kernel, provider, model, [text], "query")
        best, score = _best(vector, [list(r.vector) for r in rows])
        if best is None or score < settings.score_threshold:
            return None
        annotation_id = rows[best].annotation_id
        async with self.db.session() as session:
            await session.execute(
                update(Annotation).where(Annotation.id == annotation_id)
                .values(hit_count=Annotation.hit_count + 1)
                .execution_options(synchronize_session=False)
            )
            hit = await session.get(Annotation, annotation_id, populate_existing=True)
        if hit is None:
            return None
        return AnnotationMatch(hit.id, hit.question, hit.answer, score, hit.hit_count, hit.created_by)


async def _setting(session: AsyncSession, tenant_id: str, app_id: str) -> AnnotationSetting | None:
    row: AnnotationSetting | None = await session.scalar(
        select(AnnotationSetting).where(AnnotationSetting.app_id == app_id, AnnotationSetting.tenant_id == tenant_id)
    )
    return row


async def _stale(session: AsyncSession, app_id: str, provider: str, model: str,
                 only: set[str] | None) -> list[tuple[str, str]]:
    """(id, normalised question) of the annotations without a current vector of this model."""
    query = (
        select(Annotation.id, Annotation.question, AnnotationEmbedding.provider, AnnotationEmbedding.model,
               AnnotationEmbedding.question_hash)
        .outerjoin(AnnotationEmbedding, AnnotationEmbedding.annotation_id == Annotation.id)
        .where(Annotation.app_id == app_id)
        .order_by(Annotation.created_at, Annotation.id)
    )
    if only is not None:
        query = query.where(Annotation.id.in_(only))
    stale = []
    for row in (await session.execute(query)).all():
        question = normalise_question(row.question)
        if (row.provider, row.model, row.question_hash) != (provider, model, _hash(question)):
            stale.append((row.id, question))
    return stale


async def _embed(kernel: EmbeddingClient, provider: str, model: str, texts: list[str],
                 input_type: str) -> list[list[float]]:
    result = await kernel.ainvoke_text_embedding(provider, model, texts, input_type=input_type)
    vectors = [[float(x) for x in vector] for vector in result.embeddings]
    if len(vectors) != len(texts):
        raise ValueError(f"the embedding model {provider}/{model} returned {len(vectors)} vectors "
                         f"for {len(texts)} texts")
    return vectors


def _best(query: list[float], vectors: list[list[float]]) -> tuple[int | None, float]:
    """The index of the vector most cosine-similar to ``query`` and that similarity (vectors of
    another length, or of zero length, are never chosen)."""
    q = np.asarray(query, dtype=np.float64)
    q_norm = float(np.linalg.norm(q))
    same = [i for i, v in enumerate(vectors) if len(v) == len(query)]
    if q_norm == 0.0 or not same:
        return None, -1.0
    matrix = np.asarray([vectors[i] for i in same], dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(norms > 0, matrix @ q / (norms * q_norm), -1.0)
    top = int(np.argmax(scores))
    return same[top], float(scores[top])


# -- background jobs ---------------------------------------------------------------------------------


@dataclass
class AnnotationJob:
    """One enable or disable job of an app as last read from its row (API-ANN-REPLY-STATUS).

    ``task`` is the asyncio task running it, set only on the job :meth:`AnnotationJobs.start` returns
    (the process that started a job is the one that runs it).
    """

    id: str
    app_id: str
    action: str
    status: JobStatus = "waiting"
    error_msg: str = ""
    finished_at: datetime | None = None
    task: asyncio.Task[Any] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, row: AnnotationJobRecord) -> AnnotationJob:
        return cls(
            id=row.id, app_id=row.app_id, action=row.action, status=_status(row.status),
            error_msg=row.error_msg or "", finished_at=row.finished_at,
        )


def _status(value: str) -> JobStatus:
    if value not in _JOB_STATUSES:
        raise ValueError(f"annotation job status {value!r} is not one of {', '.join(_JOB_STATUSES)}")
    return value


class AnnotationJobs:
    """The annotation reply jobs, recorded in the database so that any server process answers a
    job's status, while each job runs as a task of the process that started it.

    A job's row goes waiting -> processing -> completed or error (with its message). A job whose
    process died while it ran stays ``processing`` for good: nothing else knows it ended, and a
    caller polling it sees no progress and may start the action again (enable and disable are safe
    to repeat). Finished jobs are kept a day for their status; older ones are deleted whenever a job
    starts.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(
        self, app_id: str, action: str, work: Callable[[], Awaitable[Any]],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[Any]] | None = None,
    ) -> AnnotationJob:
        """Record a new waiting job of ``app_id`` for ``action`` and run ``work`` as it (in a task
        made by ``spawn``, or a plain one)."""
        expired = utcnow() - _JOB_TTL
        async with self._db.session() as session:
            await session.execute(delete(AnnotationJobRecord).where(
                AnnotationJobRecord.finished_at.is_not(None), AnnotationJobRecord.finished_at < expired,
            ))
            row = AnnotationJobRecord(app_id=app_id, action=action, status="waiting")
            session.add(row)
            await session.flush()
            job = AnnotationJob.of(row)
        coroutine = self._run(job, work)
        job.task = spawn(coroutine) if spawn is not None else asyncio.get_running_loop().create_task(coroutine)
        return job

    async def get(self, app_id: str, action: str, job_id: str) -> AnnotationJob | None:
        """The job as recorded, if it is ``app_id``'s and was started for ``action``."""
        async with self._db.session() as session:
            row = await session.scalar(select(AnnotationJobRecord).where(
                AnnotationJobRecord.id == job_id, AnnotationJobRecord.app_id == app_id,
                AnnotationJobRecord.action == action,
            ))
            return None if row is None else AnnotationJob.of(row)

    async def _run(self, job: AnnotationJob, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            await self._record(job, status="processing")
            await work()
        except asyncio.CancelledError:
            await self._record(job, status="error", error_msg="The job was cancelled.", finished_at=utcnow())
            raise
        except Exception as exc:  # the job's status carries it; the caller polls for it
            log.warning("annotation reply %s job %s of app %s failed: %s", job.action, job.id, job.app_id, exc)
            await self._record(job, status="error", error_msg=str(exc) or type(exc).__name__, finished_at=utcnow())
        else:
            await self._record(job, status="completed", finished_at=utcnow())

    async def _record(self, job: AnnotationJob, **values: Any) -> None:
        """Write the job's progress to its row; a failure to write is logged, not raised, so that the
        work still runs (its row then shows less progress than was made)."""
        try:
            async with self._db.session() as session:
                await session.execute(
                    update(AnnotationJobRecord).where(AnnotationJobRecord.id == job.id).values(**values)
                )
        except Exception as exc:
            log.warning("could not record %s of annotation reply job %s of app %s: %s",
                        values.get("status"), job.id, job.app_id, exc)
