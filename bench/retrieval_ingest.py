"""The ingestion half of bench/retrieval.py: chunks per second through the real indexing pipeline.

Documents are made as the Knowledge API's create-by-text makes them (the text stored as a file through
the storage plugin, a custom process rule splitting on blank lines), then each is indexed by
:meth:`IndexingService.run_document`, one after the other, as the job queue's worker would: parsing
through the doc-extractor plugin, cleaning, splitting, embedding through the :class:`Embedder` (its
cache empty, so every chunk goes to the model), the vectors into the faiss store, the full-text rows.

The time spent in the model is the time the Embedder waits on its model calls (the plugin call
included: the model runs in the plugin host in the default placement), measured by a subclass of
:class:`Embedder` that times its one model-calling method.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from treadle.config import Settings
from treadle.files import FileService, FileSigner, PluginStorage
from treadle.knowledge.embedding import Embedder, InputType
from treadle.knowledge.indexing import IndexingService
from treadle.knowledge.vectors import VectorStores
from treadle.plugins import GroupPlan, PluginSupervisor
from treadle.store import (
    Database,
    Dataset,
    DatasetProcessRule,
    Document,
    DocumentSegment,
    SqlFileRecordStore,
    Tenant,
    upgrade_to_head,
)

__all__ = ["INGEST_PLUGINS", "IngestionResult", "TimedEmbedder", "ingest"]

#: The plugins ingestion needs: storage, the doc-extractor, the faiss store, the embedding models.
INGEST_PLUGINS = ("local-storage", "doc-extractor", "faiss-store", "fake", "local-embeddings")
#: Chunks per document (one paragraph each: the process rule splits on blank lines).
PER_DOCUMENT = 100
RULE = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True},
                                 {"id": "remove_urls_emails", "enabled": False}],
        "segmentation": {"separator": "\\n\\n", "max_tokens": 1000, "chunk_overlap": 0},
    },
}  # fmt: skip


class TimedEmbedder(Embedder):
    """An :class:`Embedder` that adds up the time its model calls take (``model_seconds``)."""

    model_seconds = 0.0
    model_texts = 0

    async def _invoke(
        self, tenant_id: str, provider: str, model: str, texts: list[str], input_type: InputType
    ) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return await super()._invoke(tenant_id, provider, model, texts, input_type)
        finally:
            self.model_seconds += time.perf_counter() - started
            self.model_texts += len(texts)


@dataclass(frozen=True)
class IngestionResult:
    """One ingestion run's figures."""

    model: str
    store: str
    placement: str
    documents: int
    chunks: int
    seconds: float
    model_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "store": self.store, "placement": self.placement, "documents": self.documents,
            "chunks": self.chunks, "seconds": self.seconds, "chunks_per_s": self.chunks / self.seconds,
            "model_seconds": self.model_seconds, "model_share": self.model_seconds / self.seconds,
        }  # fmt: skip


def _paragraph(rng: random.Random, words: list[str]) -> str:
    body = " ".join(rng.choice(words) for _ in range(60))
    return f"{body.capitalize()}."


async def ingest(
    home: Path, groups: list[GroupPlan], placement: str, model: tuple[str, str], chunks: int, seed: int
) -> IngestionResult:
    """Index ``chunks`` chunks (in documents of :data:`PER_DOCUMENT`) embedded by ``model`` into
    faiss, the plugins placed by ``groups``, in a fresh data directory under ``home``."""
    rng = random.Random(seed)
    words = sorted({"".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
                    for _ in range(5000)})  # fmt: skip
    settings = Settings.load(home=home, plugins={"load": list(INGEST_PLUGINS)})
    settings.ensure_home()
    db = Database(f"sqlite:///{home / 'treadle.db'}")
    await upgrade_to_head(db)
    try:
        async with PluginSupervisor(settings, groups=groups) as supervisor:
            files = FileService(PluginStorage(supervisor, "local", home=home), SqlFileRecordStore(db),
                                FileSigner(b"b" * 32))  # fmt: skip
            supervisor.services.files = files
            embedder = TimedEmbedder(db, supervisor)
            indexing = IndexingService(db, supervisor, VectorStores(supervisor, settings), embedder)
            async with db.session() as session:
                tenant = Tenant(name="bench")
                session.add(tenant)
                await session.flush()
                dataset = Dataset(tenant_id=tenant.id, name="ingest", indexing_technique="high_quality",
                                  embedding_model_provider=model[0], embedding_model=model[1])  # fmt: skip
                session.add(dataset)
                await session.flush()
                rule = DatasetProcessRule(dataset_id=dataset.id, mode=RULE["mode"], rules=RULE["rules"])
                session.add(rule)
            # The model loads (MiniLM reads 90 MB of weights) and the hosts warm up before the clock starts.
            await embedder.embed(tenant.id, *model, ["warm-up"], input_type="document")
            embedder.model_seconds, embedder.model_texts = 0.0, 0
            document_ids = []
            for number, first in enumerate(range(0, chunks, PER_DOCUMENT)):
                count = min(PER_DOCUMENT, chunks - first)
                text = "\n\n".join(_paragraph(rng, words) for _ in range(count))
                record = await files.upload(
                    tenant.id, filename=f"doc-{number}.txt", content=text.encode(), mime_type="text/plain",
                    created_by="bench", created_by_role="account",
                )  # fmt: skip
                async with db.session() as session:
                    document = Document(
                        tenant_id=tenant.id, dataset_id=dataset.id, position=number + 1, name=f"doc-{number}.txt",
                        data_source_info={"upload_file_id": record.id}, upload_file_id=record.id, batch="bench",
                        dataset_process_rule_id=rule.id, doc_form="text_model",
                    )  # fmt: skip
                    session.add(document)
                document_ids.append(document.id)
            started = time.perf_counter()
            for document_id in document_ids:
                await indexing.run_document(document_id)
            seconds = time.perf_counter() - started
            async with db.session() as session:
                statuses = dict((await session.execute(
                    select(Document.indexing_status, func.count()).where(Document.dataset_id == dataset.id)
                    .group_by(Document.indexing_status))).all())  # fmt: skip
                indexed = await session.scalar(select(func.count()).select_from(DocumentSegment).where(
                    DocumentSegment.dataset_id == dataset.id, DocumentSegment.status == "completed"))  # fmt: skip
                errors = list(await session.scalars(select(Document.error).where(Document.error.is_not(None))))
            if set(statuses) != {"completed"}:
                raise RuntimeError(f"ingestion with {model[0]}/{model[1]} did not complete: {statuses} {errors[:1]}")
            return IngestionResult(f"{model[0]}/{model[1]}", "faiss", placement, len(document_ids), int(indexed or 0),
                                   seconds, embedder.model_seconds)  # fmt: skip
    finally:
        await db.dispose()
