"""The ``faiss`` vector store: the embedded default (``[vectors] store = "faiss"``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError
from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
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
from treadle_sdk.vector_filter import parse_vector_filter

if TYPE_CHECKING:
    from .directory import StoreDirectory

__all__ = ["CONFIG_SCHEMA", "FaissConfig", "FaissStore"]

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "description": "Directory of the store's SQLite file, vectors.sqlite3 (default: $TREADLE_HOME/vectors).",
        }
    },
    "additionalProperties": False,
}


class FaissConfig(BaseModel):
    """The store's configuration (``config`` of every call): ``path``, the directory of its SQLite
    file; without it, ``$TREADLE_HOME/vectors``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = ""

    def directory(self) -> Path:
        if self.path:
            return Path(self.path).expanduser().resolve()
        home = os.environ.get("TREADLE_HOME")
        if not home:
            raise PluginInvalidArgument(
                "the faiss store has no directory: set config 'path' or the TREADLE_HOME environment variable",
                details={"field": "config.path"},
            )
        return (Path(home).expanduser() / "vectors").resolve()


def _config(args: CollectionArgs) -> FaissConfig:
    try:
        return FaissConfig.model_validate(args.config)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        raise PluginInvalidArgument(
            f"bad faiss store config at config.{path}: {error['msg']}", details={"field": f"config.{path}"}
        ) from None


class FaissStore(VectorStore):
    """Exact cosine search with faiss over records kept in SQLite (KB-RET-VECTOR).

    SQLite is the durable truth, committed on every write; each collection's faiss index is built
    from it in memory on first use in the process. ``threads`` is how many OpenMP threads one faiss
    search may use: one by default, because calls already run side by side in worker threads, and
    on small machines OpenMP's hand-offs cost more than they save (3x slower with two threads on a
    two-core VM, for one query over 100 000 vectors).
    """

    schema = VectorStoreSchema(
        name="faiss",
        label={"en_US": "faiss (local disk)"},
        description={
            "en_US": "The embedded default: exact cosine search with faiss, records kept in a SQLite file "
            "under $TREADLE_HOME/vectors."
        },
        config_schema=CONFIG_SCHEMA,
        supports_metadata_filter=True,
    )

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._directories: dict[Path, StoreDirectory] = {}
        self._lock = threading.Lock()

    def _directory(self, args: CollectionArgs) -> StoreDirectory:
        path = _config(args).directory()
        with self._lock:
            found = self._directories.get(path)
            if found is None:
                # faiss and numpy load on first use: the first-party host loads this plugin even
                # when another store is in use.
                import faiss

                from .database import VectorDatabase
                from .directory import StoreDirectory

                if not self._directories:
                    faiss.omp_set_num_threads(self.threads)
                found = self._directories[path] = StoreDirectory(VectorDatabase(path))
            return found

    async def aclose(self) -> None:
        with self._lock:
            directories, self._directories = list(self._directories.values()), {}
        for directory in directories:
            directory.close()

    def create_collection(self, args: CreateCollectionArgs, ctx: CallContext) -> None:
        self._directory(args).create(args.collection, args.dimension)

    def upsert(self, args: UpsertVectorsArgs, ctx: CallContext) -> int:
        return self._directory(args).upsert(args.collection, args.records)

    def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
        conditions = parse_vector_filter(args.filter)
        return self._directory(args).search(args.collection, args.vector, args.top_k, conditions, args.score_threshold)

    def delete(self, args: DeleteVectorsArgs, ctx: CallContext) -> int:
        return self._directory(args).delete(args.collection, args.ids)

    def delete_where(self, args: DeleteWhereArgs, ctx: CallContext) -> int:
        return self._directory(args).delete_where(args.collection, parse_vector_filter(args.filter))

    def count(self, args: CollectionArgs, ctx: CallContext) -> int:
        return self._directory(args).count(args.collection)

    def drop_collection(self, args: CollectionArgs, ctx: CallContext) -> None:
        self._directory(args).drop(args.collection)
