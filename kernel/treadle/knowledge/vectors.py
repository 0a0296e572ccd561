"""Where a knowledge base's vectors live: one collection per dataset in a vector store plugin
(KB-RET-VECTOR, SH-ENV-VECTOR).

A dataset is indexed into the store ``[vectors] store`` names (faiss by default) unless it records a
store already (``Dataset.vector_store``): a dataset keeps its store when the setting changes later.
Every call goes through the plugin supervisor (``vector_store`` extensions, :class:`~treadle_sdk.
extensions.VectorStore`); each record's metadata is ``{dataset_id, document_id, segment_id}``, so a
document's vectors can be deleted by filter and searches narrowed to documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from treadle_sdk.extensions import VectorHit

from ..config import Settings
from ..store import Dataset
from .errors import KnowledgeError

if TYPE_CHECKING:
    from ..plugins import PluginSupervisor

__all__ = ["VectorRecordInput", "VectorStores", "collection_name"]

#: A record as :meth:`VectorStores.upsert` takes it: ``{"id", "vector", "text", "metadata"}``.
VectorRecordInput = Mapping[str, Any]
_KIND = "vector_store"


def collection_name(dataset_id: str) -> str:
    """The collection of a dataset's vectors: ``ds_`` and the id's hex digits."""
    return "ds_" + dataset_id.replace("-", "").lower()


class VectorStores:
    """The kernel's side of the vector store plugins, per dataset."""

    def __init__(self, supervisor: PluginSupervisor, settings: Settings) -> None:
        self.supervisor = supervisor
        self.settings = settings

    # -- which store ---------------------------------------------------------------------------------

    def store_for(self, dataset: Dataset) -> tuple[str, dict[str, Any]]:
        """The store plugin of ``dataset`` and the config every call to it carries."""
        configured = self.settings.vectors.store
        name = dataset.vector_store or configured
        config = self._defaults(name)
        if name == configured:
            config.update(self.settings.vectors.config)
        return name, config

    def _defaults(self, name: str) -> dict[str, Any]:
        vectors: Path = self.settings.home / "vectors"
        if name == "faiss":
            return {"path": str(vectors / "faiss")}
        if name == "qdrant":
            return {"path": str(vectors / "qdrant")}
        if name == "pgvector":
            url = make_url(self.settings.database_url)
            if url.get_backend_name() == "postgresql":
                # The plugin connects with its own driver: a plain postgresql:// URL.
                return {"dsn": url.set(drivername="postgresql").render_as_string(hide_password=False)}
        return {}

    # -- collections ---------------------------------------------------------------------------------

    async def ensure_collection(self, dataset: Dataset, dimension: int) -> None:
        """Create the dataset's collection for vectors of ``dimension`` numbers (nothing when it is
        there) and record the store, collection and dimension on ``dataset`` (the caller saves it).

        Raises :class:`KnowledgeError` when the dataset's vectors have another dimension: they were
        made by another embedding model, and mixing them would compare unrelated numbers.
        """
        if dataset.vector_dimension is not None and dataset.vector_collection and dataset.vector_dimension != dimension:
            raise KnowledgeError(
                f"The embedding model answered vectors of {dimension} numbers, but dataset {dataset.id} holds "
                f"vectors of {dataset.vector_dimension}: re-index the dataset after changing its embedding model."
            )
        name, config = self.store_for(dataset)
        collection = dataset.vector_collection or collection_name(dataset.id)
        await self._call(
            dataset, name, "create_collection", {"collection": collection, "config": config, "dimension": dimension}
        )
        dataset.vector_store = name
        dataset.vector_collection = collection
        dataset.vector_dimension = dimension

    async def drop(self, dataset: Dataset) -> None:
        """Remove the dataset's collection and every vector in it."""
        if not dataset.vector_collection:
            return
        name, config = self.store_for(dataset)
        await self._call(dataset, name, "drop_collection", {"collection": dataset.vector_collection, "config": config})

    # -- records ---------------------------------------------------------------------------------------

    async def upsert(self, dataset: Dataset, records: Sequence[VectorRecordInput]) -> int:
        """Write records into the dataset's collection (made by :meth:`ensure_collection`)."""
        if not records:
            return 0
        name, config, collection = self._where(dataset, "upsert")
        payload = {"collection": collection, "config": config, "records": [dict(record) for record in records]}
        return int(await self._call(dataset, name, "upsert", payload) or 0)

    async def search(
        self,
        dataset: Dataset,
        vector: Sequence[float],
        top_k: int,
        filter: Mapping[str, Any] | None = None,
        score_threshold: float | None = None,
    ) -> list[VectorHit]:
        """The ``top_k`` records nearest ``vector`` by cosine similarity, best first; [] for a
        dataset with no vectors yet."""
        if not dataset.vector_collection:
            return []
        name, config = self.store_for(dataset)
        payload = {
            "collection": dataset.vector_collection, "config": config, "vector": list(vector), "top_k": top_k,
            "filter": dict(filter) if filter else None, "score_threshold": score_threshold,
        }  # fmt: skip
        hits = await self._call(dataset, name, "search", payload) or []
        return [hit if isinstance(hit, VectorHit) else VectorHit.model_validate(hit) for hit in hits]

    async def delete(self, dataset: Dataset, node_ids: Sequence[str]) -> int:
        """Delete the records of ``node_ids``; how many were there."""
        if not dataset.vector_collection or not node_ids:
            return 0
        name, config = self.store_for(dataset)
        payload = {"collection": dataset.vector_collection, "config": config, "ids": list(node_ids)}
        return int(await self._call(dataset, name, "delete", payload) or 0)

    async def delete_document(self, dataset: Dataset, document_id: str) -> int:
        """Delete every record of a document; how many there were."""
        if not dataset.vector_collection:
            return 0
        name, config = self.store_for(dataset)
        payload = {"collection": dataset.vector_collection, "config": config, "filter": {"document_id": document_id}}
        return int(await self._call(dataset, name, "delete_where", payload) or 0)

    async def count(self, dataset: Dataset) -> int:
        """How many records the dataset's collection holds."""
        if not dataset.vector_collection:
            return 0
        name, config = self.store_for(dataset)
        return int(await self._call(dataset, name, "count", {"collection": dataset.vector_collection, "config": config})
                   or 0)  # fmt: skip

    # -- calls ---------------------------------------------------------------------------------------

    def _where(self, dataset: Dataset, operation: str) -> tuple[str, dict[str, Any], str]:
        if not dataset.vector_collection:
            raise KnowledgeError(f"dataset {dataset.id} has no vector collection yet: {operation} needs one")
        name, config = self.store_for(dataset)
        return name, config, dataset.vector_collection

    async def _call(self, dataset: Dataset, name: str, operation: str, payload: dict[str, Any]) -> Any:
        return await self.supervisor.call(_KIND, name, operation, payload, tenant_id=dataset.tenant_id)
