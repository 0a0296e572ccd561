"""The indexing pipeline (KB-INDEX-HQ, KB-INDEX-ECONOMICAL, KB-CHUNK-PARENT-CHILD, API-DOC-INDEX-STATUS)
on a real database, with the real plugins: a document's text read through the doc-extractor, its
chunks embedded by an OpenAI-compatible HTTP server through openai_compat, its vectors in faiss.

The status walk is recorded by a database trigger on ``documents`` (every committed change of
``indexing_status``), and read from another session while the model holds a request."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from support.waiting import eventually
from treadle.config import JobsSettings
from treadle.jobs import JobQueue
from treadle.knowledge.embedding import text_hash
from treadle.store import ChildChunk, Dataset, Document, DocumentSegment, IndexNode
from treadle_fake.embedding import embed

from .indexing_world import World, indexing_world

LINES = [f"Line {n}: the {word} policy covers {n * 3} days of leave." for n, word in
         enumerate(["holiday", "sick", "parental", "study", "unpaid", "carer", "jury"], start=1)]
TEXT = "\n".join(LINES)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with indexing_world(request.param, tmp_path) as made:
        yield made


async def _log_statuses(world: World) -> None:
    """A trigger recording every change of a document's indexing_status, in commit order."""
    statements: list[str]
    if world.db.dialect == "sqlite":
        statements = [
            "CREATE TABLE status_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, document_id TEXT, status TEXT)",
            "CREATE TRIGGER log_status AFTER UPDATE OF indexing_status ON documents "
            "WHEN new.indexing_status IS NOT old.indexing_status "
            "BEGIN INSERT INTO status_log (document_id, status) VALUES (new.id, new.indexing_status); END",
        ]
    else:
        statements = [
            "CREATE TABLE status_log (seq SERIAL PRIMARY KEY, document_id TEXT, status TEXT)",
            "CREATE FUNCTION log_status() RETURNS trigger AS $$ BEGIN "
            "IF NEW.indexing_status IS DISTINCT FROM OLD.indexing_status THEN "
            "INSERT INTO status_log (document_id, status) VALUES (NEW.id, NEW.indexing_status); END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER log_status AFTER UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION log_status()",
        ]
    async with world.db.session() as session:
        for statement in statements:
            await session.execute(text(statement))


async def _statuses(world: World, document_id: str) -> list[str]:
    async with world.db.session() as session:
        rows = await session.execute(
            text("SELECT status FROM status_log WHERE document_id = :id ORDER BY seq"), {"id": document_id}
        )
        return [row[0] for row in rows]


async def _top_hit(world: World, dataset: Dataset, content: str) -> str:
    hits = await world.vectors.search(await world.reload(Dataset, dataset.id), embed(content), 1)
    assert hits, f"nothing found for {content!r}"
    return hits[0].id


async def test_a_document_walks_the_statuses_in_order_and_ends_searchable(world: World) -> None:
    """API-DOC-INDEX-STATUS: waiting → parsing → cleaning → splitting → indexing → completed, each
    committed on its own; then every chunk is in the vector store and the full-text rows."""
    await _log_statuses(world)
    dataset = await world.dataset()
    document = await world.document(dataset, TEXT)
    assert (await world.reload(Document, document.id)).indexing_status == "waiting"
    await world.indexing.run_document(document.id)

    assert await _statuses(world, document.id) == ["parsing", "cleaning", "splitting", "indexing", "completed"]
    done: Document = await world.reload(Document, document.id)
    assert done.indexing_status == "completed" and done.error is None and done.indexing_attempts == 1
    assert done.processing_started_at is not None and done.completed_at is not None
    assert done.parsing_completed_at is not None and done.cleaning_completed_at is not None
    assert done.splitting_completed_at is not None
    assert (done.processing_started_at <= done.parsing_completed_at <= done.cleaning_completed_at
            <= done.splitting_completed_at <= done.completed_at)
    assert done.indexing_latency is not None and done.indexing_latency >= 0

    segments = await world.rows(DocumentSegment, DocumentSegment.document_id == document.id,
                                order=DocumentSegment.position)
    assert [s.content for s in segments] == LINES  # Dify's automatic rule: one chunk per line here
    assert [s.position for s in segments] == list(range(1, len(LINES) + 1))
    assert all(s.status == "completed" and s.index_node_hash == text_hash(s.content) for s in segments)
    assert done.word_count == sum(len(line) for line in LINES) == sum(s.word_count for s in segments)
    assert done.tokens == sum(s.tokens for s in segments) > 0

    nodes = await world.rows(IndexNode, IndexNode.document_id == document.id)
    assert {(n.node_id, n.segment_id, n.content) for n in nodes} == {
        (s.index_node_id, s.id, s.content) for s in segments}
    stored = await world.reload(Dataset, dataset.id)
    assert (stored.vector_store, stored.vector_collection, stored.vector_dimension) == (
        "faiss", "ds_" + dataset.id.replace("-", ""), 64)
    assert await world.vectors.count(stored) == len(LINES)
    for segment in segments:
        assert await _top_hit(world, dataset, segment.content) == segment.index_node_id
    # Embedded in batches of 4, every text once.
    assert [len(batch) for batch in world.server.requests] == [4, 3]
    assert sorted(world.server.answered) == sorted(LINES)


async def test_a_client_polling_sees_indexing_while_the_model_works(world: World) -> None:
    """The steps before indexing are committed before the model is called: another session reads them."""
    world.server.hold, world.server.refuse_held = 1, False
    dataset = await world.dataset()
    document = await world.document(dataset, TEXT)
    running = asyncio.create_task(world.indexing.run_document(document.id))
    await asyncio.to_thread(world.server.holding.wait, 60)
    seen: Document = await world.reload(Document, document.id)
    assert seen.indexing_status == "indexing"
    assert seen.parsing_completed_at and seen.cleaning_completed_at and seen.splitting_completed_at
    assert seen.completed_at is None
    pending = await world.rows(DocumentSegment, DocumentSegment.document_id == document.id)
    assert len(pending) == len(LINES) and {s.status for s in pending} == {"waiting"}
    world.server.release.set()
    await running
    assert (await world.reload(Document, document.id)).indexing_status == "completed"


async def test_a_stopped_run_resumes_without_embedding_anything_twice(world: World) -> None:
    """A run stopped mid-batch (here cancelled, as a shutdown does) keeps the batches it finished and
    its chunks; the next run indexes the rest, and the model never answers a text twice."""
    world.server.hold = 2
    dataset = await world.dataset()
    document = await world.document(dataset, TEXT)
    running = asyncio.create_task(world.indexing.run_document(document.id))
    await asyncio.to_thread(world.server.holding.wait, 60)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    world.server.release.set()
    first = await world.rows(DocumentSegment, DocumentSegment.document_id == document.id,
                             order=DocumentSegment.position)
    assert [s.status for s in first] == ["completed"] * 4 + ["waiting"] * 3
    assert (await world.reload(Document, document.id)).indexing_status == "indexing"

    await world.indexing.run_document(document.id)
    done: Document = await world.reload(Document, document.id)
    assert done.indexing_status == "completed" and done.indexing_attempts == 2
    again = await world.rows(DocumentSegment, DocumentSegment.document_id == document.id,
                             order=DocumentSegment.position)
    assert [(s.id, s.index_node_id) for s in again] == [(s.id, s.index_node_id) for s in first]
    assert Counter(world.server.answered) == Counter(LINES)
    assert await world.vectors.count(await world.reload(Dataset, dataset.id)) == len(LINES)


async def test_pausing_stops_after_the_batch_and_resuming_goes_on(world: World) -> None:
    world.server.hold, world.server.refuse_held = 1, False
    dataset = await world.dataset()
    document = await world.document(dataset, TEXT)
    running = asyncio.create_task(world.indexing.run_document(document.id))
    await asyncio.to_thread(world.server.holding.wait, 60)
    await world.indexing.pause(document.id)
    world.server.release.set()
    await running
    paused: Document = await world.reload(Document, document.id)
    assert paused.is_paused and paused.paused_at is not None and paused.indexing_status == "indexing"
    segments = await world.rows(DocumentSegment, DocumentSegment.document_id == document.id)
    assert sorted(s.status for s in segments).count("completed") == 4
    await world.indexing.run_document(document.id)  # a paused document is left alone
    assert len(world.server.requests) == 1

    await world.indexing.resume(document.id)  # no queue here: resume only lifts the pause
    await world.indexing.run_document(document.id)
    assert (await world.reload(Document, document.id)).indexing_status == "completed"
    assert Counter(world.server.answered) == Counter(LINES)


async def test_a_failing_model_stops_the_document_with_its_message_and_retry_goes_on(world: World) -> None:
    dataset = await world.dataset(model="broken")
    document = await world.document(dataset, TEXT)
    await world.indexing.run_document(document.id)
    failed: Document = await world.reload(Document, document.id)
    assert failed.indexing_status == "error" and failed.stopped_at is not None
    assert failed.error is not None and "openai_compat/broken" in failed.error and "broken" in failed.error
    assert failed.splitting_completed_at is not None  # the chunks were made; only the model failed

    async with world.db.session() as session:
        row = await session.get(Dataset, dataset.id)
        assert row is not None
        row.embedding_model = "embedder"
    await world.indexing.retry([document.id])
    assert (await world.reload(Document, document.id)).indexing_status == "waiting"
    await world.indexing.run_document(document.id)
    done: Document = await world.reload(Document, document.id)
    assert done.indexing_status == "completed" and done.error is None and done.stopped_at is None
    assert len(await world.rows(DocumentSegment, DocumentSegment.document_id == document.id)) == len(LINES)


async def test_a_dataset_without_an_embedding_model_or_a_missing_file_is_an_error(world: World) -> None:
    dataset = await world.dataset(model=None)
    document = await world.document(dataset, TEXT)
    await world.indexing.run_document(document.id)
    failed: Document = await world.reload(Document, document.id)
    assert failed.indexing_status == "error" and failed.error is not None
    assert "has no embedding model" in failed.error
    other = await world.document(await world.dataset(), TEXT)
    await world.files.delete(world.tenant_id, other.upload_file_id or "")
    await world.indexing.run_document(other.id)
    gone: Document = await world.reload(Document, other.id)
    assert gone.indexing_status == "error" and gone.error is not None
    assert "there is no such file in this workspace" in gone.error
    assert world.server.requests == []


async def test_economy_indexing_writes_keywords_and_calls_no_model(world: World) -> None:
    """KB-INDEX-ECONOMICAL: keywords per chunk (at most 10) in the segment and its full-text row."""
    dataset = await world.dataset(technique="economy")
    document = await world.document(dataset, TEXT)
    await world.indexing.run_document(document.id)
    assert (await world.reload(Document, document.id)).indexing_status == "completed"
    segments = await world.rows(DocumentSegment, DocumentSegment.document_id == document.id,
                                order=DocumentSegment.position)
    assert segments[0].keywords[:3] == ["line", "holiday", "policy"]
    assert all(0 < len(s.keywords) <= 10 and "the" not in s.keywords for s in segments)
    nodes = {n.segment_id: n for n in await world.rows(IndexNode, IndexNode.document_id == document.id)}
    assert all(nodes[s.id].keywords == " ".join(s.keywords) for s in segments)
    assert world.server.requests == []
    assert (await world.reload(Dataset, dataset.id)).vector_collection is None


async def test_parent_child_indexes_the_children(world: World) -> None:
    """KB-CHUNK-PARENT-CHILD: the search matches child chunks (one vector and full-text row each),
    and a parent is completed once its children are."""
    dataset = await world.dataset(doc_form="hierarchical_model")
    body = "\n\n".join(["\n".join(LINES[:3]), "\n".join(LINES[3:])])
    rule = {"mode": "hierarchical", "rules": {"parent_mode": "paragraph",
                                              "segmentation": {"separator": "\n\n", "max_tokens": 1000},
                                              "subchunk_segmentation": {"separator": "\n", "max_tokens": 200}}}
    document = await world.document(dataset, body, rule=rule)
    await world.indexing.run_document(document.id)
    assert (await world.reload(Document, document.id)).indexing_status == "completed"
    parents = await world.rows(DocumentSegment, DocumentSegment.document_id == document.id,
                               order=DocumentSegment.position)
    assert [p.content for p in parents] == ["\n".join(LINES[:3]), "\n".join(LINES[3:])]
    assert all(p.status == "completed" for p in parents)
    children = await world.rows(ChildChunk, ChildChunk.document_id == document.id)
    assert sorted(c.content for c in children) == sorted(LINES) and all(c.indexed for c in children)
    nodes = await world.rows(IndexNode, IndexNode.document_id == document.id)
    assert {(n.node_id, n.segment_id) for n in nodes} == {(c.index_node_id, c.segment_id) for c in children}
    assert await world.vectors.count(await world.reload(Dataset, dataset.id)) == len(LINES)
    child = next(c for c in children if c.content == LINES[4])
    assert await _top_hit(world, dataset, LINES[4]) == child.index_node_id
    assert Counter(world.server.answered) == Counter(LINES)


async def test_chunk_edits_reindex_through_the_cache(world: World) -> None:
    """API-CHUNK-UPDATE and enable/disable: an edited chunk is found by its new text only; disabling
    takes it out of the index, enabling puts it back, and text the model embedded once is not sent again."""
    dataset = await world.dataset()
    document = await world.document(dataset, TEXT)
    await world.indexing.run_document(document.id)
    segment = (await world.rows(DocumentSegment, DocumentSegment.document_id == document.id,
                                DocumentSegment.position == 2))[0]
    calls = len(world.server.requests)

    edited = "The sick policy now covers twenty days."
    async with world.db.session() as session:
        row = await session.get(DocumentSegment, segment.id)
        assert row is not None
        row.content = edited
    await world.indexing.index_segments([segment.id])
    assert world.server.requests[calls:] == [[edited]]
    assert await _top_hit(world, dataset, edited) == segment.index_node_id
    node = (await world.rows(IndexNode, IndexNode.node_id == segment.index_node_id))[0]
    assert node.content == edited
    assert (await world.reload(DocumentSegment, segment.id)).index_node_hash == text_hash(edited)

    async with world.db.session() as session:
        row = await session.get(DocumentSegment, segment.id)
        assert row is not None
        row.enabled = False
    await world.indexing.index_segments([segment.id])  # a disabled chunk leaves the index
    stored = await world.reload(Dataset, dataset.id)
    assert await world.vectors.count(stored) == len(LINES) - 1
    assert not await world.rows(IndexNode, IndexNode.segment_id == segment.id)

    async with world.db.session() as session:
        row = await session.get(DocumentSegment, segment.id)
        assert row is not None
        row.enabled, row.content = True, LINES[1]  # back to the original text
    await world.indexing.index_segments([segment.id])
    assert len(world.server.requests) == calls + 1  # from the cache: no model call
    assert await _top_hit(world, dataset, LINES[1]) == segment.index_node_id
    assert await world.vectors.count(stored) == len(LINES)

    await world.indexing.remove_segments([segment.id])
    assert await world.vectors.count(stored) == len(LINES) - 1
    assert not await world.rows(IndexNode, IndexNode.segment_id == segment.id)


async def test_removing_a_document_takes_its_vectors_and_rows(world: World) -> None:
    dataset = await world.dataset()
    kept = await world.document(dataset, "Kept line one.\nKept line two.")
    removed = await world.document(dataset, TEXT)
    for document in (kept, removed):
        await world.indexing.run_document(document.id)
    stored = await world.reload(Dataset, dataset.id)
    assert await world.vectors.count(stored) == len(LINES) + 2
    await world.indexing.remove_document(await world.reload(Document, removed.id))
    assert await world.vectors.count(stored) == 2
    assert not await world.rows(IndexNode, IndexNode.document_id == removed.id)
    assert len(await world.rows(IndexNode, IndexNode.document_id == kept.id)) == 2


async def test_recover_finds_the_documents_left_waiting_or_under_way(world: World) -> None:
    dataset = await world.dataset()
    waiting = await world.document(dataset, TEXT)
    under_way = await world.document(dataset, TEXT)
    paused = await world.document(dataset, TEXT)
    done = await world.document(dataset, TEXT)
    failed = await world.document(dataset, TEXT)
    async with world.db.session() as session:
        for document_id, values in ((under_way.id, {"indexing_status": "indexing"}),
                                    (paused.id, {"indexing_status": "splitting", "is_paused": True}),
                                    (done.id, {"indexing_status": "completed"}),
                                    (failed.id, {"indexing_status": "error"})):
            row = await session.get(Document, document_id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)

    queue = JobQueue(JobsSettings())
    world.indexing.queue = queue
    await queue.start(world.indexing.run_document)
    try:
        assert sorted(await world.indexing.recover()) == sorted([waiting.id, under_way.id])

        async def indexed() -> bool:
            rows = await world.rows(Document, Document.id.in_([waiting.id, under_way.id]))
            return all(row.indexing_status == "completed" for row in rows)

        await eventually(indexed, within=60, what="the document indexed")
    finally:
        await queue.stop()
    assert (await world.reload(Document, paused.id)).indexing_status == "splitting"
    assert (await world.reload(Document, failed.id)).indexing_status == "error"


_HOLDER = """
import asyncio, sys
from treadle.store import Database
from treadle.store.locks import held

async def main(url, key):
    db = Database(url)
    async with held(db, "indexing", key) as mine:
        print("held" if mine else "refused", flush=True)
        await asyncio.to_thread(sys.stdin.read)
    await db.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_document_another_process_is_indexing_is_left_to_it_until_that_process_dies(world: World) -> None:
    """Two server processes (workers, or one queueing unfinished documents again at its startup)
    never index one document at once: the lock is another process's here, so run_document leaves
    the document alone; once that process is killed (SIGKILL: no clean-up of its own), the lock is
    gone with it and the document is indexed."""
    dataset = await world.dataset()
    document = await world.document(dataset, TEXT)
    url = world.db.engine.url.set(drivername=world.db.engine.url.get_backend_name())
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, url.render_as_string(hide_password=False), document.id,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 60)).strip() == b"held"
        await world.indexing.run_document(document.id)
        assert (await world.reload(Document, document.id)).indexing_status == "waiting"
        assert world.server.requests == []
    finally:
        holder.kill()
        await holder.wait()
    await world.indexing.run_document(document.id)
    done: Document = await world.reload(Document, document.id)
    assert done.indexing_status == "completed" and done.indexing_attempts == 1
    assert sorted(world.server.answered) == sorted(LINES)
