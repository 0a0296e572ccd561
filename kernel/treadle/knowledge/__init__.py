"""Knowledge bases: datasets, documents, chunking, the indexing pipeline and retrieval (DESIGN.md).

- :mod:`.cleaning`, :mod:`.chunking`, :mod:`.rules`, :mod:`.keywords`: text cleaning (KB-CLEANING), general
  and parent-child chunking (KB-CHUNK-*), process rules, economical keywords (pure functions);
- :mod:`.extraction`: a stored file's text, through the document extractor plugin's tool;
- :mod:`.embedding`, :mod:`.vectors`, :mod:`.indexing`: embeddings through the embedding cache, the
  vector store plugins, and the resumable indexing pipeline run by the job queue (:mod:`treadle.jobs`);
- :mod:`.fulltext`, :mod:`.metadata_filter`, :mod:`.retrieval`, :mod:`.external`: full-text, semantic,
  hybrid and external retrieval (KB-RET-*);
- :mod:`.datasets` and the modules it gathers: the Knowledge API's operations (API-KB-* and the rest);
- :mod:`.runtime`: all of it, built once per process from the settings.
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
from .datasets import KnowledgeBases
from .errors import KnowledgeError, KnowledgeInputError, KnowledgeNotFound
from .extraction import SUPPORTED_EXTENSIONS, ExtractedText, KnowledgeExtractionError, extract_document
from .indexing import IndexingService
from .retrieval import RetrievedChunk, Retriever
from .retrieval_model import RetrievalSettings
from .runtime import KnowledgeRuntime, build_knowledge_runtime

__all__ = [
    "DEFAULT_DELIMITER",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_OVERLAP",
    "FULL_DOC_MAX_LENGTH",
    "SUPPORTED_EXTENSIONS",
    "ChunkingError",
    "ExtractedText",
    "IndexingService",
    "KnowledgeBases",
    "KnowledgeError",
    "KnowledgeExtractionError",
    "KnowledgeInputError",
    "KnowledgeNotFound",
    "KnowledgeRuntime",
    "ParentChunk",
    "RetrievalSettings",
    "RetrievedChunk",
    "Retriever",
    "build_knowledge_runtime",
    "clean_text",
    "extract_document",
    "split_general",
    "split_parent_child",
]
