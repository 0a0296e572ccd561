"""AnnotationReply against a real database and the fake provider's ``fake-embedding`` model through
the kernel client (FEAT annotation reply, API-ANN-REPLY-CFG): enabling embeds the annotations, a
query close enough to a question is answered with its annotation (and counts a hit), an unrelated
one is not, and edits, deletions and a switch of model keep the vectors right."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.databases import migrated_database
from treadle.apps.annotations import AnnotationJobs, AnnotationReply, normalise_question
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import Annotation, AnnotationEmbedding, AnnotationJobRecord, AnnotationSetting, App, Database, Tenant
from treadle_fake.embedding import embed
from treadle_sdk.errors import PluginNotFound

MODEL = ("fake", "fake-embedding")

QUESTIONS = {
    "What are your opening hours?": "We are open 9 to 5, Monday to Friday.",
    "How do I reset my password?": "Use the 'Forgot password' link on the sign-in page.",
    "Where is the office?": "12 Harbour Street.",
}


@dataclass
class World:
    db: Database
    kernel: Any
    tenant_id: str
    app_id: str
    other_app_id: str
    reply: AnnotationReply


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    groups = [GroupPlan("inline", True, (PluginSpec("fake"),))]
    async with migrated_database(request.param, tmp_path) as db, \
            PluginSupervisor(Settings.load(home=tmp_path), groups=groups) as supervisor:
        async with db.session() as s:
            tenant = Tenant(name="Acme")
            s.add(tenant)
            await s.flush()
            app = App(tenant_id=tenant.id, mode="chat", name="Help desk")
            other = App(tenant_id=tenant.id, mode="chat", name="Other")
            s.add_all([app, other])
            await s.flush()
            s.add_all([Annotation(app_id=app.id, question=q, answer=a) for q, a in QUESTIONS.items()])
        with supervisor.kernel_client(tenant_id=tenant.id) as kernel:
            yield World(db, kernel, tenant.id, app.id, other.id, AnnotationReply(db, batch_size=2))


async def _count(db: Database, table: Any, **where: Any) -> int:
    async with db.session() as s:
        query = select(func.count()).select_from(table)
        for key, value in where.items():
            query = query.where(getattr(table, key) == value)
        return await s.scalar(query) or 0


async def _enable(w: World, threshold: float = 0.95) -> int:
    return await w.reply.enable(w.tenant_id, w.app_id, provider=MODEL[0], model=MODEL[1],
                                score_threshold=threshold, kernel=w.kernel)


def _cosine(a: str, b: str) -> float:
    return float(sum(x * y for x, y in zip(embed(a), embed(b), strict=True)))


async def test_enabling_embeds_every_annotation_in_batches(world: World) -> None:
    """API-ANN-REPLY-CFG enable: every question gets a vector of the chosen model (batches of 2 here)."""
    assert await _enable(world) == 3
    settings = await world.reply.settings(world.tenant_id, world.app_id)
    assert settings is not None and settings.enabled and settings.score_threshold == 0.95
    assert (settings.embedding_provider_name, settings.embedding_model_name) == MODEL
    async with world.db.session() as s:
        rows = list(await s.scalars(select(AnnotationEmbedding)))
        questions = {a.id: a.question for a in await s.scalars(select(Annotation))}
    assert len(rows) == 3 and all(r.app_id == world.app_id and (r.provider, r.model) == MODEL for r in rows)
    for row in rows:  # the stored vector is the model's embedding of that question
        assert row.vector == pytest.approx(embed(questions[row.annotation_id]))
    # Enabling again re-embeds nothing that is current.
    assert await _enable(world, 0.8) == 0
    settings = await world.reply.settings(world.tenant_id, world.app_id)
    assert settings is not None and settings.score_threshold == 0.8


async def test_the_same_question_matches_and_counts_a_hit(world: World) -> None:
    """A query asking the same question (however it is spaced) is answered with the annotation."""
    await _enable(world)
    found = await world.reply.match(world.tenant_id, world.app_id, "What are your opening hours?", world.kernel)
    assert found is not None
    assert found.answer == "We are open 9 to 5, Monday to Friday."
    assert found.score == pytest.approx(1.0) and found.hit_count == 1
    again = await world.reply.match(world.tenant_id, world.app_id, "  What are your\n opening   hours? ",
                                    world.kernel)
    assert again is not None and again.id == found.id and again.hit_count == 2
    async with world.db.session() as s:
        row = await s.get(Annotation, found.id)
        assert row is not None and row.hit_count == 2
        others = list(await s.scalars(select(Annotation.hit_count).where(Annotation.id != found.id)))
    assert others == [0, 0]


async def test_an_unrelated_query_does_not_match(world: World) -> None:
    await _enable(world)
    for query in ("Tell me a joke", "What are your opening hours", "where is the office?"):
        assert await world.reply.match(world.tenant_id, world.app_id, query, world.kernel) is None
    async with world.db.session() as s:
        assert list(await s.scalars(select(Annotation.hit_count))) == [0, 0, 0]


async def test_the_threshold_decides(world: World) -> None:
    """The best annotation is returned only when its cosine similarity reaches score_threshold."""
    query = "When do you open?"  # hashed vectors: about 0.31 from the first question, less from the others
    scores = {q: _cosine(query, q) for q in QUESTIONS}
    best = max(scores, key=lambda q: scores[q])
    assert 0.1 < scores[best] < 0.9
    await _enable(world, threshold=scores[best] - 0.001)
    found = await world.reply.match(world.tenant_id, world.app_id, query, world.kernel)
    assert found is not None and found.question == best and found.score == pytest.approx(scores[best])
    await _enable(world, threshold=scores[best] + 0.001)
    assert await world.reply.match(world.tenant_id, world.app_id, query, world.kernel) is None


async def test_nothing_matches_when_reply_is_off(world: World) -> None:
    question = "Where is the office?"
    assert await world.reply.match(world.tenant_id, world.app_id, question, world.kernel) is None  # never on
    await _enable(world)
    assert await world.reply.match(world.tenant_id, world.app_id, question, world.kernel) is not None
    await world.reply.disable(world.tenant_id, world.app_id)
    assert await world.reply.match(world.tenant_id, world.app_id, question, world.kernel) is None
    assert await _count(world.db, AnnotationEmbedding) == 0
    settings = await world.reply.settings(world.tenant_id, world.app_id)
    assert settings is not None and not settings.enabled
    # Another app, or the right app under another workspace, never sees these annotations.
    await _enable(world)
    assert await world.reply.match(world.tenant_id, world.other_app_id, question, world.kernel) is None
    assert await world.reply.match("another-tenant", world.app_id, question, world.kernel) is None
    assert await world.reply.match(world.tenant_id, world.app_id, "   ", world.kernel) is None


async def test_new_and_edited_annotations_are_embedded_before_matching(world: World) -> None:
    await _enable(world)
    async with world.db.session() as s:
        added = Annotation(app_id=world.app_id, question="Do you ship abroad?", answer="Yes, worldwide.")
        s.add(added)
        edited = await s.scalar(select(Annotation).where(Annotation.question == "Where is the office?"))
        assert edited is not None
        edited.question = "Where can I find you?"
    found = await world.reply.match(world.tenant_id, world.app_id, "Do you ship abroad?", world.kernel)
    assert found is not None and found.answer == "Yes, worldwide."
    moved = await world.reply.match(world.tenant_id, world.app_id, "Where can I find you?", world.kernel)
    assert moved is not None and moved.id == edited.id
    assert await world.reply.match(world.tenant_id, world.app_id, "Where is the office?", world.kernel) is None
    async with world.db.session() as s:
        vector = await s.get(AnnotationEmbedding, edited.id)
        assert vector is not None and vector.vector == pytest.approx(embed("Where can I find you?"))
    # index() of one annotation embeds only that one, and only when stale.
    assert await world.reply.index(world.tenant_id, world.app_id, world.kernel, [added.id]) == 0


async def test_a_deleted_annotation_takes_its_vector_with_it(world: World) -> None:
    await _enable(world)
    async with world.db.session() as s:
        row = await s.scalar(select(Annotation).where(Annotation.question == "Where is the office?"))
        assert row is not None
        await s.delete(row)
    assert await _count(world.db, AnnotationEmbedding) == 2
    assert await world.reply.match(world.tenant_id, world.app_id, "Where is the office?", world.kernel) is None


async def test_a_model_that_fails_leaves_the_settings_as_they_were(world: World) -> None:
    await _enable(world, 0.9)
    with pytest.raises(PluginNotFound, match="no text-embedding model 'no-such-model'"):
        await world.reply.enable(world.tenant_id, world.app_id, provider="fake", model="no-such-model",
                                 score_threshold=0.5, kernel=world.kernel)
    settings = await world.reply.settings(world.tenant_id, world.app_id)
    assert settings is not None and settings.score_threshold == 0.9 and settings.embedding_model_name == MODEL[1]
    assert await _count(world.db, AnnotationEmbedding, model=MODEL[1]) == 3
    with pytest.raises(ValueError, match="between 0 and 1"):
        await _enable(world, 1.5)


async def test_deleting_the_app_takes_its_settings_and_vectors(world: World) -> None:
    await _enable(world)
    async with world.db.session() as s:
        await s.delete(await s.get(App, world.app_id))
    assert await _count(world.db, AnnotationSetting) == 0
    assert await _count(world.db, AnnotationEmbedding) == 0


async def test_jobs_record_their_progress_and_errors(world: World) -> None:
    """API-ANN-REPLY-STATUS: a job's row goes waiting -> processing -> completed, or error with the
    failure's message; it is found only under its app and action."""
    jobs = AnnotationJobs(world.db)
    running, gate = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        running.set()
        await gate.wait()

    async def failing() -> None:
        raise RuntimeError("the embedding model is unavailable")

    job = await jobs.start(world.app_id, "enable", slow)
    assert job.status == "waiting" and job.task is not None
    await running.wait()
    seen = await jobs.get(world.app_id, "enable", job.id)
    assert seen is not None and (seen.status, seen.finished_at) == ("processing", None)
    gate.set()
    await job.task
    done = await jobs.get(world.app_id, "enable", job.id)
    assert done is not None and (done.status, done.error_msg) == ("completed", "")
    assert done.finished_at is not None
    bad = await jobs.start(world.app_id, "disable", failing)
    assert bad.task is not None
    await bad.task
    failed = await jobs.get(world.app_id, "disable", bad.id)
    assert failed is not None and (failed.status, failed.error_msg) == ("error", "the embedding model is unavailable")
    assert await jobs.get(world.app_id, "disable", job.id) is None  # asked under the other action
    assert await jobs.get(world.other_app_id, "enable", job.id) is None  # another app's job
    assert await jobs.get(world.app_id, "enable", "5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b") is None


async def test_a_cancelled_job_ends_in_error(world: World) -> None:
    jobs = AnnotationJobs(world.db)
    running = asyncio.Event()

    async def endless() -> None:
        running.set()
        await asyncio.Event().wait()

    job = await jobs.start(world.app_id, "enable", endless)
    assert job.task is not None
    await running.wait()
    job.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job.task
    seen = await jobs.get(world.app_id, "enable", job.id)
    assert seen is not None and (seen.status, seen.error_msg) == ("error", "The job was cancelled.")


async def test_jobs_on_one_database_are_seen_by_every_instance(world: World) -> None:
    """What another server process does: a second AnnotationJobs on the same database reads the status
    of a job the first runs."""
    first, second = AnnotationJobs(world.db), AnnotationJobs(world.db)
    running, gate = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        running.set()
        await gate.wait()

    job = await first.start(world.app_id, "enable", slow)
    assert job.task is not None
    await running.wait()
    seen = await second.get(world.app_id, "enable", job.id)
    assert seen is not None and seen.status == "processing"
    gate.set()
    await job.task
    seen = await second.get(world.app_id, "enable", job.id)
    assert seen is not None and seen.status == "completed"


async def test_starting_a_job_deletes_finished_jobs_older_than_a_day(world: World) -> None:
    now = datetime.now(UTC)
    async with world.db.session() as s:
        old = AnnotationJobRecord(app_id=world.app_id, action="enable", status="completed",
                                  created_at=now - timedelta(days=2), finished_at=now - timedelta(hours=25))
        recent = AnnotationJobRecord(app_id=world.app_id, action="enable", status="error", error_msg="boom",
                                     created_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=23))
        stuck = AnnotationJobRecord(app_id=world.app_id, action="disable", status="processing",
                                    created_at=now - timedelta(days=3))
        s.add_all([old, recent, stuck])
    jobs = AnnotationJobs(world.db)

    async def nothing() -> None:
        return None

    job = await jobs.start(world.app_id, "disable", nothing)
    assert job.task is not None
    await job.task
    assert await jobs.get(world.app_id, "enable", old.id) is None
    kept = await jobs.get(world.app_id, "enable", recent.id)
    assert kept is not None and (kept.status, kept.error_msg) == ("error", "boom")
    unfinished = await jobs.get(world.app_id, "disable", stuck.id)  # its process died: it stays processing
    assert unfinished is not None and unfinished.status == "processing"
    assert await _count(world.db, AnnotationJobRecord) == 3


def test_questions_are_compared_with_their_whitespace_collapsed() -> None:
    assert normalise_question("  a\tb \n c ") == "a b c"
