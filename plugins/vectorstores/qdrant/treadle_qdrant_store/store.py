"""The ``qdrant`` vector store: a Qdrant server by URL, or Qdrant's local mode (a directory, or memory)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from treadle_sdk.context import CallContext
from treadle_sdk.extensions import (
    CollectionArgs,
    CreateCollectionArgs,
    DeleteVectorsArgs,
    DeleteWhereArgs,
    SearchVectorsArgs,
    UpsertVectorsArgs,
    VectorHit,
    VectorStore,
)
from treadle_sdk.schemas import VectorStoreSchema

from .config import CONFIG_SCHEMA, QdrantConfig, config_of

if TYPE_CHECKING:
    from .operations import QdrantCollections

__all__ = ["QdrantStore"]


class QdrantStore(VectorStore):
    """Vectors in Qdrant (KB-RET-VECTOR), one Qdrant collection per collection, ``Distance.COSINE``.

    Points are named by the UUID5 of the record id; the payload holds ``id``, ``text`` and
    ``metadata``, and filters test ``metadata.<field>``. ``delete`` and ``delete_where`` count what
    they delete with a read before the delete, so under concurrent writes the count is a close
    estimate: Qdrant does not report how many points a delete removed.

    qdrant-client is imported on the first call, not when the plugin loads: it takes about a
    second, and the host of the first-party plugins loads this plugin whichever store is in use.
    """

    schema = VectorStoreSchema(
        name="qdrant",
        label={"en_US": "Qdrant"},
        description={"en_US": "Vectors in a Qdrant server, or in Qdrant's local mode on disk or in memory."},
        config_schema=CONFIG_SCHEMA,
        supports_metadata_filter=True,
    )

    def __init__(self) -> None:
        self._opened: dict[QdrantConfig, QdrantCollections] = {}
        self._lock = threading.Lock()

    def _collections(self, args: CollectionArgs) -> QdrantCollections:
        config = config_of(args)
        with self._lock:
            found = self._opened.get(config)
            if found is None:
                from .operations import QdrantCollections

                found = self._opened[config] = QdrantCollections(config)
            return found

    async def aclose(self) -> None:
        with self._lock:
            opened, self._opened = list(self._opened.values()), {}
        for collections in opened:
            collections.close()

    def create_collection(self, args: CreateCollectionArgs, ctx: CallContext) -> None:
        self._collections(args).create_collection(args)

    def upsert(self, args: UpsertVectorsArgs, ctx: CallContext) -> int:
        return self._collections(args).upsert(args)

    def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
        return self._collections(args).search(args)

    def delete(self, args: DeleteVectorsArgs, ctx: CallContext) -> int:
        return self._collections(args).delete(args)

    def delete_where(self, args: DeleteWhereArgs, ctx: CallContext) -> int:
        return self._collections(args).delete_where(args)

    def count(self, args: CollectionArgs, ctx: CallContext) -> int:
        return self._collections(args).count(args)

    def drop_collection(self, args: CollectionArgs, ctx: CallContext) -> None:
        self._collections(args).drop_collection(args)
