"""Knowledge bases: datasets, documents, chunking, the indexing pipeline and retrieval (DESIGN.md).

So far: text cleaning (KB-CLEANING) and general chunking (KB-CHUNK-GENERAL), as pure functions.
"""

from __future__ import annotations

from .chunking import DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH, DEFAULT_OVERLAP, ChunkingError, split_general
from .cleaning import clean_text

__all__ = [
    "DEFAULT_DELIMITER",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_OVERLAP",
    "ChunkingError",
    "clean_text",
    "split_general",
]
