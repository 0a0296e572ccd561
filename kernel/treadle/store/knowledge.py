"""Knowledge bases: datasets, their documents, the chunks (segments) and child chunks cut from them,
metadata fields, tags, the search index rows, the embedding cache, external knowledge APIs and the
log of retrievals (KB-*, API-KB-*, API-DOC-*, API-CHUNK-*, API-META-*, API-TAG-*).

Vectors do not live here: they live in the vector store plugin the dataset was indexed with
(``Dataset.vector_store``). Full-text search reads :class:`IndexNode`, one row per searchable piece
(a segment, or a child chunk in parent-child mode); migration 0006 adds the engine's own full-text
index over it (an FTS5 table kept in step by triggers on SQLite, a generated ``tsvector`` column with
a GIN index on PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin, in_values, json_column
from .types import utcnow

__all__ = [
    "DATASET_PERMISSIONS",
    "DOC_FORMS",
    "INDEXING_STATUSES",
    "INDEXING_TECHNIQUES",
    "METADATA_TYPES",
    "SEGMENT_STATUSES",
    "ChildChunk",
    "Dataset",
    "DatasetMetadataField",
    "DatasetProcessRule",
    "DatasetQuery",
    "Document",
    "DocumentSegment",
    "EmbeddingCacheEntry",
    "ExternalKnowledgeApi",
    "IndexNode",
    "Tag",
    "TagBinding",
]

INDEXING_TECHNIQUES = ("high_quality", "economy")
DATASET_PERMISSIONS = ("only_me", "all_team_members", "partial_members")
#: ``text_model`` is general chunking, ``hierarchical_model`` parent-child, ``qa_model`` Q&A.
DOC_FORMS = ("text_model", "hierarchical_model", "qa_model")
#: A document's indexing steps in order (API-DOC-INDEX-STATUS), then the two ways it can stop.
INDEXING_STATUSES = ("waiting", "parsing", "cleaning", "splitting", "indexing", "completed", "error")
SEGMENT_STATUSES = ("waiting", "indexing", "completed", "error")
METADATA_TYPES = ("string", "number", "time")


class Dataset(IdMixin, TimestampMixin, Base):
    """A knowledge base (DATASET-OBJ). ``indexing_technique`` and ``doc_form`` stay empty until the
    first document fixes them (KB-CHUNK-IMMUTABLE); ``vector_store`` and ``vector_collection`` record
    where its vectors went, which wins over the server's configured store later (SH-ENV-VECTOR)."""

    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint(in_values("provider", ("vendor", "external")), name="provider"),
        CheckConstraint(in_values("permission", DATASET_PERMISSIONS), name="permission"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    provider: Mapped[str] = mapped_column(String(16), default="vendor")
    permission: Mapped[str] = mapped_column(String(32), default="only_me")
    #: Account ids that may see the dataset when ``permission`` is ``partial_members``.
    partial_member_list: Mapped[list[str]] = mapped_column(json_column(), default=list)
    data_source_type: Mapped[str | None] = mapped_column(String(32), default=None)
    indexing_technique: Mapped[str | None] = mapped_column(String(16), default=None)
    doc_form: Mapped[str | None] = mapped_column(String(32), default=None)
    embedding_model: Mapped[str | None] = mapped_column(String(255), default=None)
    embedding_model_provider: Mapped[str | None] = mapped_column(String(255), default=None)
    #: RETRIEVAL-MODEL, as the API takes and shows it (``retrieval_model_dict``).
    retrieval_model: Mapped[dict[str, Any] | None] = mapped_column(json_column(), default=None)
    summary_index_setting: Mapped[dict[str, Any] | None] = mapped_column(json_column(), default=None)
    icon_info: Mapped[dict[str, Any] | None] = mapped_column(json_column(), default=None)
    built_in_field_enabled: Mapped[bool] = mapped_column(default=False)
    enable_api: Mapped[bool] = mapped_column(default=True)
    vector_store: Mapped[str | None] = mapped_column(String(64), default=None)
    vector_collection: Mapped[str | None] = mapped_column(String(128), default=None)
    #: Dimension of the vectors in ``vector_collection``, set when the collection is created.
    vector_dimension: Mapped[int | None] = mapped_column(default=None)
    external_knowledge_api_id: Mapped[str | None] = mapped_column(String(36), default=None)
    external_knowledge_id: Mapped[str | None] = mapped_column(String(255), default=None)
    external_retrieval_model: Mapped[dict[str, Any] | None] = mapped_column(json_column(), default=None)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(36), default=None)


class DatasetProcessRule(IdMixin, Base):
    """The cleaning and chunking rule a document was (or will be) processed with
    (``process_rule{mode, rules{pre_processing_rules, segmentation, parent_mode, subchunk_segmentation}}``)."""

    __tablename__ = "dataset_process_rules"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(32), default="automatic")
    rules: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(IdMixin, TimestampMixin, Base):
    """A document of a dataset and where its indexing stands (API-DOC-GET, API-DOC-INDEX-STATUS).

    ``indexing_status`` walks waiting → parsing → cleaning → splitting → indexing → completed, or
    stops at ``error`` with ``error`` saying why. ``is_paused`` holds a document at the step it had
    reached (shown as ``paused``); resuming carries on from there. ``batch`` groups the documents of
    one upload. ``doc_metadata`` maps custom and built-in field names to values (KB-METADATA-FIELDS).
    """

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(in_values("indexing_status", INDEXING_STATUSES), name="indexing_status"),
        CheckConstraint(in_values("created_from", ("api", "web", "cli")), name="created_from"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(255))
    data_source_type: Mapped[str] = mapped_column(String(32), default="upload_file")
    data_source_info: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    #: The original file (for text documents, the text saved as a ``.txt`` file).
    upload_file_id: Mapped[str | None] = mapped_column(String(36), default=None)
    dataset_process_rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("dataset_process_rules.id", ondelete="SET NULL"), default=None
    )
    batch: Mapped[str] = mapped_column(String(64), index=True)
    created_from: Mapped[str] = mapped_column(String(16), default="api")
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    indexing_status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    is_paused: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_by: Mapped[str | None] = mapped_column(String(36), default=None)
    processing_started_at: Mapped[datetime | None] = mapped_column(default=None)
    parsing_completed_at: Mapped[datetime | None] = mapped_column(default=None)
    cleaning_completed_at: Mapped[datetime | None] = mapped_column(default=None)
    splitting_completed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    #: Seconds from the start of processing to completion.
    indexing_latency: Mapped[float | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_by: Mapped[str | None] = mapped_column(String(36), default=None)
    archived: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)
    archived_by: Mapped[str | None] = mapped_column(String(36), default=None)
    word_count: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(default=0)
    hit_count: Mapped[int] = mapped_column(default=0)
    doc_form: Mapped[str] = mapped_column(String(32), default="text_model")
    doc_language: Mapped[str] = mapped_column(String(64), default="English")
    doc_type: Mapped[str | None] = mapped_column(String(64), default=None)
    doc_metadata: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    #: Times the indexing job picked this document up; a crash-restart shows as more than one.
    indexing_attempts: Mapped[int] = mapped_column(default=0)


class DocumentSegment(IdMixin, TimestampMixin, Base):
    """A chunk of a document (API-CHUNK-GET). In parent-child mode it is the parent and its
    :class:`ChildChunk` rows are what vector search matches. ``index_node_hash`` is the SHA-256 of
    the content as indexed: an edit changes it, and the chunk is indexed again."""

    __tablename__ = "document_segments"
    __table_args__ = (
        CheckConstraint(in_values("status", SEGMENT_STATUSES), name="status"),
        UniqueConstraint("document_id", "position"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    #: 1-based, in document order.
    position: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    word_count: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(default=0)
    keywords: Mapped[list[str]] = mapped_column(json_column(), default=list)
    index_node_id: Mapped[str | None] = mapped_column(String(36), default=None)
    index_node_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hit_count: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_by: Mapped[str | None] = mapped_column(String(36), default=None)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    indexing_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(36), default=None)


class ChildChunk(IdMixin, TimestampMixin, Base):
    """A child chunk of a parent segment (parent-child mode, KB-CHUNK-PARENT-CHILD)."""

    __tablename__ = "child_chunks"
    __table_args__ = (CheckConstraint(in_values("type", ("automatic", "custom")), name="type"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[str] = mapped_column(ForeignKey("document_segments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    word_count: Mapped[int] = mapped_column(default=0)
    index_node_id: Mapped[str | None] = mapped_column(String(36), default=None)
    index_node_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    type: Mapped[str] = mapped_column(String(16), default="automatic")
    #: Set once the chunk's vector is in the store (the resume point after a crash).
    indexed: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(36), default=None)


class IndexNode(Base):
    """One searchable piece of a dataset: a segment's text, or a child chunk's in parent-child mode.
    Full-text search runs over these rows (the engine's index is added by migration 0006); vector
    search uses the same ``node_id`` as the vector's id in the store."""

    __tablename__ = "knowledge_index_nodes"

    # An integer key: SQLite's FTS5 external-content table refers to rows by rowid.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(String(36), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[str] = mapped_column(ForeignKey("document_segments.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text)
    #: The chunk's keywords, space separated (economical indexing searches these, KB-INDEX-ECONOMICAL).
    keywords: Mapped[str] = mapped_column(Text, default="")


class DatasetMetadataField(IdMixin, Base):
    """A custom metadata field of a dataset (API-META-*). Values live in ``Document.doc_metadata``
    under the field's name; a rename rewrites them, a delete removes them."""

    __tablename__ = "dataset_metadata_fields"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name"),
        CheckConstraint(in_values("type", METADATA_TYPES), name="type"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(IdMixin, Base):
    """A workspace tag (API-TAG-*); ``type`` is ``knowledge`` for datasets, ``app`` for apps."""

    __tablename__ = "tags"
    __table_args__ = (CheckConstraint(in_values("type", ("knowledge", "app")), name="type"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16), default="knowledge")
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TagBinding(IdMixin, Base):
    """A tag put on a dataset (or an app): ``target_id`` is its id."""

    __tablename__ = "tag_bindings"
    __table_args__ = (UniqueConstraint("tag_id", "target_id"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    tag_id: Mapped[str] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[str] = mapped_column(String(36), index=True)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmbeddingCacheEntry(Base):
    """A text's embedding by one model, kept so that the same text is never embedded twice: after a
    crash, on re-enable, or in another document. ``vector`` is little-endian float32."""

    __tablename__ = "embedding_cache"

    #: ``provider/model``.
    model_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    #: SHA-256 of the text, hex.
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExternalKnowledgeApi(IdMixin, TimestampMixin, Base):
    """An external knowledge API of a workspace (KB-EXT-API-REGISTER): ``endpoint`` gets
    ``/retrieval`` appended; ``api_key`` is sealed with the workspace cipher."""

    __tablename__ = "external_knowledge_apis"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    endpoint: Mapped[str] = mapped_column(Text)
    api_key: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)


class DatasetQuery(IdMixin, Base):
    """A retrieval against a dataset, for its Records list (KB-TEST-RETRIEVAL): hit tests and the
    retrievals of apps and the API alike."""

    __tablename__ = "dataset_queries"
    __table_args__ = (CheckConstraint(in_values("source", ("hit_testing", "app", "api")), name="source"),)

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    source_app_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_by_role: Mapped[str] = mapped_column(String(16), default="account")
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
