"""The embedded default vector store (``[vectors] store = "faiss"``; KB-RET-VECTOR).

Registers the vector store ``faiss``: exact cosine search with faiss indexes held in memory, over
records committed to a SQLite file on local disk on every write.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import VectorStore
from treadle_sdk.hookspecs import hookimpl

from .store import CONFIG_SCHEMA, FaissConfig, FaissStore

__all__ = ["CONFIG_SCHEMA", "FaissConfig", "FaissStore", "register_vector_stores"]


@hookimpl
def register_vector_stores(register: Callable[[VectorStore], None]) -> None:
    """Register the ``faiss`` vector store."""
    register(FaissStore())
