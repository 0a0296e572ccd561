"""Issue 6's acceptance line: kill the server (SIGKILL) in the middle of an indexing batch, start it
again, and the document completes; the embedding model never answers a text twice, and every chunk
is searchable.

A real ``treadle serve`` process on SQLite, its plugins in their default placement (openai_compat,
local storage, the doc-extractor and faiss in a plugin host process), embedding through openai_compat
from a local HTTP server in OpenAI's wire format. The server holds the second embedding request; the
test kills the server while it waits, then lets the request go (refused: its texts were never
answered). The document was queued by nobody: the restarted server finds it at startup."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support.serve import server_process
from treadle.config import Settings
from treadle.files import FileService, FileSigner, PluginStorage
from treadle.knowledge.vectors import VectorStores
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import (
    Database,
    Dataset,
    Document,
    DocumentSegment,
    IndexNode,
    SqlFileRecordStore,
    Tenant,
    upgrade_to_head,
)
from treadle_fake.embedding import embed

from .embedding_server import EmbeddingServer, credentials

LINES = [f"Clause {n}: notice of {n} days applies to contract type {n % 7}." for n in range(1, 81)]
PLUGINS = ["openai-compat", "local-storage", "doc-extractor", "faiss-store"]
#: How long the server may take to come up, and the indexing to finish, on a loaded machine.
WITHIN = 120.0


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="trk-"))  # short: plugin host sockets live under it
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def _prepare(home: Path, server: EmbeddingServer) -> str:
    """Migrate the database and make what the Knowledge API would: a workspace with the embedding
    provider's credentials, a dataset, and a waiting document of LINES (an uploaded text file)."""
    settings = Settings.load(home=home)
    settings.ensure_home()
    db = Database(settings.database_url)
    try:
        await upgrade_to_head(db)
        async with db.session() as session:
            tenant = Tenant(name="Acme")
            session.add(tenant)
            await session.flush()
            dataset = Dataset(tenant_id=tenant.id, name="contracts", indexing_technique="high_quality",
                              doc_form="text_model", embedding_model_provider="openai_compat",
                              embedding_model="embedder")  # fmt: skip
            session.add(dataset)
        groups = [GroupPlan("inline", True, (PluginSpec("openai-compat"), PluginSpec("local-storage")))]
        async with PluginSupervisor(settings, groups=groups) as supervisor:
            await supervisor.model_settings.save_credentials(tenant.id, "openai_compat", credentials(server))
            files = FileService(PluginStorage(supervisor, "local", home=home), SqlFileRecordStore(db),
                                FileSigner(b"s" * 32))
            record = await files.upload(tenant.id, filename="contracts.txt", content="\n".join(LINES).encode(),
                                        mime_type="text/plain", created_by="u1", created_by_role="account")
        async with db.session() as session:
            document = Document(tenant_id=tenant.id, dataset_id=dataset.id, position=1, name="contracts.txt",
                                upload_file_id=record.id, data_source_info={"upload_file_id": record.id},
                                batch="b1")  # fmt: skip
            session.add(document)
        return document.id
    finally:
        await db.dispose()


async def _document(home: Path, document_id: str) -> tuple[Document, list[DocumentSegment]]:
    db = Database(Settings.load(home=home).database_url)
    try:
        async with db.session() as session:
            document = await session.get(Document, document_id)
            assert document is not None
            segments = list(await session.scalars(
                select(DocumentSegment).where(DocumentSegment.document_id == document_id)
                .order_by(DocumentSegment.position)))  # fmt: skip
            return document, segments
    finally:
        await db.dispose()


async def _searchable(home: Path, document_id: str) -> None:
    """Every chunk is the best vector hit for its own text, and has its full-text row."""
    settings = Settings.load(home=home)
    db = Database(settings.database_url)
    groups = [GroupPlan("inline", True, (PluginSpec("faiss-store"),))]
    try:
        async with PluginSupervisor(settings, groups=groups) as supervisor, db.session() as session:
            document = await session.get(Document, document_id)
            assert document is not None
            dataset = await session.get(Dataset, document.dataset_id)
            assert dataset is not None and dataset.vector_collection
            segments = list(await session.scalars(select(DocumentSegment).where(
                DocumentSegment.document_id == document_id)))
            nodes = {node.node_id: node.segment_id for node in await session.scalars(select(IndexNode))}
            vectors = VectorStores(supervisor, settings)
            assert await vectors.count(dataset) == len(LINES)
            for segment in segments:
                hits = await vectors.search(dataset, embed(segment.content), 1)
                assert [hit.id for hit in hits] == [segment.index_node_id], segment.content
                assert nodes[segment.index_node_id or ""] == segment.id
    finally:
        await db.dispose()


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= {int(child), *_descendants(int(child))}
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for_exit(pids: set[int], within: float) -> set[int]:
    """The pids still running after ``within`` seconds (plugin hosts notice their server is gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    return {pid for pid in pids if _alive(pid)}


def test_killed_mid_batch_the_server_finishes_the_document_after_a_restart(home: Path, tmp_path: Path) -> None:
    config = home / "treadle.toml"
    config.write_text(f"[plugins]\nload = {PLUGINS!r}\n".replace("'", '"'))
    env = {"TREADLE_CONFIG": str(config)}
    with EmbeddingServer() as server:
        server.hold = 2  # batches of 32: the first is answered, the second held
        document_id = asyncio.run(_prepare(home, server))

        with server_process(home, tmp_path / "first.log", env=env, within=WITHIN) as (proc, _info):
            assert server.holding.wait(WITHIN), (tmp_path / "first.log").read_text()
            family = _descendants(proc.pid)
            assert family, "the plugins should run in host processes of their own"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        server.release.set()  # the held request is refused: nobody is there to hear it anyway
        leftovers = _wait_for_exit(family, 30)
        for pid in leftovers:  # a host that outlived its server must not hold the files
            os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"plugin hosts outlived the killed server: {leftovers}"
        (home / "server.json").unlink(missing_ok=True)  # left behind by the killed server

        interrupted, segments = asyncio.run(_document(home, document_id))
        assert interrupted.indexing_status == "indexing" and interrupted.indexing_attempts == 1
        assert [s.status for s in segments] == ["completed"] * 32 + ["waiting"] * 48
        assert len(server.answered) == 32 and len(server.requests) == 2

        with server_process(home, tmp_path / "second.log", env=env, within=WITHIN):
            deadline = time.monotonic() + WITHIN
            while True:
                document, segments = asyncio.run(_document(home, document_id))
                if document.indexing_status in ("completed", "error") or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        assert document.indexing_status == "completed", (document.error, (tmp_path / "second.log").read_text())
        assert document.indexing_attempts == 2 and document.error is None
        assert [s.content for s in segments] == LINES and {s.status for s in segments} == {"completed"}
        # No text was answered twice; the held request's texts were asked again, and answered once.
        assert Counter(server.answered) == Counter(LINES)
        assert server.requests[1] == LINES[32:64] == server.requests[2]
        asyncio.run(_searchable(home, document_id))
    for log in ("first.log", "second.log"):
        assert "Traceback" not in (tmp_path / log).read_text()
