"""What the indexing tests share: a migrated database (SQLite or PostgreSQL), a supervisor running
the real plugins inline (openai_compat in front of a local embedding server, local storage, the
doc-extractor, the faiss vector store), the knowledge services over them, and a workspace with
datasets and documents made as the Knowledge API makes them (an uploaded file per document)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from support.databases import migrated_database
from treadle.config import Settings
from treadle.files import FileService, FileSigner, PluginStorage
from treadle.knowledge.embedding import Embedder
from treadle.knowledge.indexing import IndexingService
from treadle.knowledge.vectors import VectorStores
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import Database, Dataset, DatasetProcessRule, Document, SqlFileRecordStore, Tenant, new_id

from .embedding_server import EmbeddingServer, credentials

PLUGINS = ("openai-compat", "local-storage", "doc-extractor", "faiss-store")
MODEL = ("openai_compat", "embedder")


@dataclass
class World:
    db: Database
    supervisor: PluginSupervisor
    files: FileService
    vectors: VectorStores
    embedder: Embedder
    indexing: IndexingService
    server: EmbeddingServer
    tenant_id: str

    async def dataset(self, *, technique: str = "high_quality", model: str | None = MODEL[1],
                      doc_form: str = "text_model") -> Dataset:
        async with self.db.session() as session:
            dataset = Dataset(
                tenant_id=self.tenant_id, name=f"kb-{new_id()[:8]}", indexing_technique=technique,
                doc_form=doc_form, embedding_model=model if technique == "high_quality" else None,
                embedding_model_provider=MODEL[0] if technique == "high_quality" and model else None,
            )  # fmt: skip
            session.add(dataset)
        return dataset

    async def document(self, dataset: Dataset, text: str, *, rule: dict[str, Any] | None = None,
                       name: str = "notes.txt") -> Document:
        """A waiting document of ``text`` (stored as a file, as create-by-text does), with ``rule``."""
        record = await self.files.upload(self.tenant_id, filename=name, content=text.encode(),
                                         mime_type="text/plain", created_by="u1", created_by_role="account")
        async with self.db.session() as session:
            position = await session.scalar(
                select(func.count()).select_from(Document).where(Document.dataset_id == dataset.id)) or 0
            rule_row = None
            if rule is not None:
                rule_row = DatasetProcessRule(dataset_id=dataset.id, mode=rule["mode"], rules=rule.get("rules") or {})
                session.add(rule_row)
                await session.flush()
            document = Document(
                tenant_id=self.tenant_id, dataset_id=dataset.id, position=position + 1, name=name,
                data_source_info={"upload_file_id": record.id}, upload_file_id=record.id, batch="b1",
                dataset_process_rule_id=rule_row.id if rule_row else None, doc_form=dataset.doc_form or "text_model",
            )  # fmt: skip
            session.add(document)
        return document

    async def reload(self, model: type[Any], row_id: str) -> Any:
        async with self.db.session() as session:
            return await session.get(model, row_id)

    async def rows(self, model: type[Any], *where: Any, order: Any = None) -> list[Any]:
        async with self.db.session() as session:
            query = select(model).where(*where)
            if order is not None:
                query = query.order_by(order)
            return list(await session.scalars(query))


@contextlib.asynccontextmanager
async def indexing_world(backend: str, tmp_path: Path, *, batch_size: int = 4) -> AsyncIterator[World]:
    groups = [GroupPlan("inline", True, tuple(PluginSpec(name) for name in PLUGINS))]
    settings = Settings.load(home=tmp_path / "home")
    with EmbeddingServer() as server:
        async with migrated_database(backend, tmp_path) as db, \
                PluginSupervisor(settings, groups=groups) as supervisor:
            files = FileService(PluginStorage(supervisor, "local", home=settings.home), SqlFileRecordStore(db),
                                FileSigner(b"s" * 32))
            supervisor.services.files = files
            async with db.session() as session:
                tenant = Tenant(name="Acme")
                session.add(tenant)
            await supervisor.model_settings.save_credentials(tenant.id, MODEL[0], credentials(server))
            vectors = VectorStores(supervisor, settings)
            embedder = Embedder(db, supervisor, batch_size=batch_size)
            indexing = IndexingService(db, supervisor, vectors, embedder)
            yield World(db, supervisor, files, vectors, embedder, indexing, server, tenant.id)
