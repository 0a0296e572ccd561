"""The ``pgvector`` vector store: a PostgreSQL table per collection, searched by cosine distance."""

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

from .config import CONFIG_SCHEMA

if TYPE_CHECKING:
    from .operations import PgvectorTables

__all__ = ["PgvectorStore"]


class PgvectorStore(VectorStore):
    """Vectors in PostgreSQL with pgvector (KB-RET-VECTOR): a table per collection (``id`` text
    primary key, ``embedding vector(dim)``, ``text``, ``metadata`` jsonb), an HNSW index with
    ``vector_cosine_ops`` and a GIN index on metadata. Score = 1 - cosine distance.

    The HNSW index answers unfiltered searches. A filtered search on pgvector older than 0.8 ranks
    the rows the filter keeps exactly instead: HNSW there drops the rows the filter rejects after
    the index scan, and would return fewer than ``top_k`` hits. From 0.8 on, the index scan goes on
    until enough rows pass (``hnsw.iterative_scan``).

    psycopg is imported on the first call, not when the plugin loads: the host of the first-party
    plugins loads this plugin whichever store is in use.
    """

    schema = VectorStoreSchema(
        name="pgvector",
        label={"en_US": "PostgreSQL (pgvector)"},
        description={"en_US": "Vectors in PostgreSQL tables, with the pgvector extension and an HNSW index."},
        config_schema=CONFIG_SCHEMA,
        supports_metadata_filter=True,
    )

    def __init__(self) -> None:
        self._tables: PgvectorTables | None = None
        self._lock = threading.Lock()

    def _operations(self) -> PgvectorTables:
        with self._lock:
            if self._tables is None:
                from .operations import PgvectorTables

                self._tables = PgvectorTables()
            return self._tables

    async def aclose(self) -> None:
        with self._lock:
            tables, self._tables = self._tables, None
        if tables is not None:
            tables.close()

    def create_collection(self, args: CreateCollectionArgs, ctx: CallContext) -> None:
        self._operations().create_collection(args)

    def upsert(self, args: UpsertVectorsArgs, ctx: CallContext) -> int:
        return self._operations().upsert(args)

    def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
        return self._operations().search(args)

    def delete(self, args: DeleteVectorsArgs, ctx: CallContext) -> int:
        return self._operations().delete(args)

    def delete_where(self, args: DeleteWhereArgs, ctx: CallContext) -> int:
        return self._operations().delete_where(args)

    def count(self, args: CollectionArgs, ctx: CallContext) -> int:
        return self._operations().count(args)

    def drop_collection(self, args: CollectionArgs, ctx: CallContext) -> None:
        self._operations().drop_collection(args)
