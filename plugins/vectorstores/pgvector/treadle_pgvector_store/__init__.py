"""Vector store on PostgreSQL with pgvector (``[vectors] store = "pgvector"``; KB-RET-VECTOR).

Registers the vector store ``pgvector``: a table per collection with an HNSW cosine index, metadata
in jsonb; the ``vector`` extension is created on first use.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import VectorStore
from treadle_sdk.hookspecs import hookimpl

from .config import CONFIG_SCHEMA, DEFAULT_TABLE_PREFIX, PgvectorConfig
from .store import PgvectorStore

__all__ = ["CONFIG_SCHEMA", "DEFAULT_TABLE_PREFIX", "PgvectorConfig", "PgvectorStore", "register_vector_stores"]


@hookimpl
def register_vector_stores(register: Callable[[VectorStore], None]) -> None:
    """Register the ``pgvector`` vector store."""
    register(PgvectorStore())
