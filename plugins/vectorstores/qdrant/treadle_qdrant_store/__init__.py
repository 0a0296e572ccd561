"""Vector store on Qdrant (``[vectors] store = "qdrant"``; KB-RET-VECTOR).

Registers the vector store ``qdrant``: a Qdrant server by URL, or Qdrant's local mode (pure Python)
in a directory or in memory; cosine distance, record ids mapped to UUID5 point ids.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import VectorStore
from treadle_sdk.hookspecs import hookimpl

from .config import CONFIG_SCHEMA, ID_NAMESPACE, QdrantConfig, point_id
from .store import QdrantStore

__all__ = ["CONFIG_SCHEMA", "ID_NAMESPACE", "QdrantConfig", "QdrantStore", "point_id", "register_vector_stores"]


@hookimpl
def register_vector_stores(register: Callable[[VectorStore], None]) -> None:
    """Register the ``qdrant`` vector store."""
    register(QdrantStore())
