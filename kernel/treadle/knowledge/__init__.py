"""Knowledge bases: datasets, documents, chunking, the indexing pipeline and retrieval (DESIGN.md).

So far: text cleaning (KB-CLEANING), general and parent-child chunking (KB-CHUNK-GENERAL,
KB-CHUNK-PARENT-CHILD), as pure functions.
"""

from __future__ import annotations

from .chunking import (
    DEFAULT_DELIMITER,
    DEFAULT_MAX_LENGTH,
    DEFAULT_OVERLAP,
    FULL_DOC_MAX_LENGTH,
    ChunkingError,
    ParentChunk,
    split_general,
    split_parent_child,
)
from .cleaning import clean_text

__all__ = [
    "DEFAULT_DELIMITER",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_OVERLAP",
    "FULL_DOC_MAX_LENGTH",
    "ChunkingError",
    "ParentChunk",
    "clean_text",
    "split_general",
    "split_parent_child",
]
