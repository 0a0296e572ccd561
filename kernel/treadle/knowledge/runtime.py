"""Knowledge bases in a running server: the services, built once from the settings and shared by the
API routes and the kernel services (issue 6).

:func:`build_knowledge_runtime` makes them; :meth:`KnowledgeRuntime.start` starts the job worker and
queues again the indexing a previous process left unfinished; :meth:`KnowledgeRuntime.stop` stops the
worker (a job under way stops where it is and is picked up at the next start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..jobs import JobQueue
from ..store import Database
from .datasets import KnowledgeBases
from .embedding import Embedder
from .external import ExternalKnowledgeApis
from .indexing import IndexingService
from .retrieval import Retriever
from .vectors import VectorStores

if TYPE_CHECKING:
    from ..files import FileService
    from ..plugins import PluginSupervisor
    from ..tenancy import SecretCipher

__all__ = ["KnowledgeRuntime", "build_knowledge_runtime"]

log = logging.getLogger(__name__)


@dataclass
class KnowledgeRuntime:
    """The knowledge services of one server process."""

    db: Database
    supervisor: PluginSupervisor
    files: FileService
    cipher: SecretCipher
    settings: Settings
    vectors: VectorStores
    embedder: Embedder
    jobs: JobQueue
    indexing: IndexingService
    #: Retrieval (KB-RET-*): the Knowledge API's retrieve and the kernel's ``retrieve_knowledge``.
    retriever: Retriever
    #: The Knowledge API's operations over these services (made from them).
    bases: KnowledgeBases = field(init=False)

    def __post_init__(self) -> None:
        self.bases = KnowledgeBases(
            self.db, files=self.files, supervisor=self.supervisor, indexing=self.indexing, jobs=self.jobs,
            vectors=self.vectors, retriever=self.retriever,
        )

    async def start(self) -> None:
        """Work the job queue, and queue again what was waiting or under way when the last process stopped."""
        await self.jobs.start(self.indexing.run_document)
        try:
            await self.indexing.recover()
        except SQLAlchemyError as exc:
            # The server runs on without knowledge bases rather than not at all (a database not
            # migrated yet, one that is down for a moment); the documents wait for the next start.
            log.warning("could not look for documents left unindexed by the last run: %s", exc)

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.retriever.flush()


def build_knowledge_runtime(
    settings: Settings, supervisor: PluginSupervisor, db: Database, files: FileService, cipher: SecretCipher
) -> KnowledgeRuntime:
    """The knowledge services over ``db`` and the plugins of ``supervisor`` (not started)."""
    vectors = VectorStores(supervisor, settings)
    embedder = Embedder(db, supervisor)
    jobs = JobQueue(settings.jobs)
    indexing = IndexingService(db, supervisor, vectors, embedder, jobs)
    retriever = Retriever(db, vectors, embedder, supervisor, ExternalKnowledgeApis(db, cipher))
    return KnowledgeRuntime(
        db=db, supervisor=supervisor, files=files, cipher=cipher, settings=settings, vectors=vectors,
        embedder=embedder, jobs=jobs, indexing=indexing, retriever=retriever,
    )  # fmt: skip
