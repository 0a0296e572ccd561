"""knowledge bases: datasets, documents, segments, child chunks, metadata fields, tags, the
full-text index, the embedding cache, external knowledge APIs and retrieval records

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import treadle.store.types
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "embedding_cache",
        sa.Column("model_key", sa.String(length=512), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_key", "text_hash", name=op.f("pk_embedding_cache")),
    )
    op.create_table(
        "datasets",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("permission", sa.String(length=32), nullable=False),
        sa.Column("partial_member_list", sa.JSON(), nullable=False),
        sa.Column("data_source_type", sa.String(length=32), nullable=True),
        sa.Column("indexing_technique", sa.String(length=16), nullable=True),
        sa.Column("doc_form", sa.String(length=32), nullable=True),
        sa.Column("embedding_model", sa.String(length=255), nullable=True),
        sa.Column("embedding_model_provider", sa.String(length=255), nullable=True),
        sa.Column("retrieval_model", sa.JSON(), nullable=True),
        sa.Column("summary_index_setting", sa.JSON(), nullable=True),
        sa.Column("icon_info", sa.JSON(), nullable=True),
        sa.Column("built_in_field_enabled", sa.Boolean(), nullable=False),
        sa.Column("enable_api", sa.Boolean(), nullable=False),
        sa.Column("vector_store", sa.String(length=64), nullable=True),
        sa.Column("vector_collection", sa.String(length=128), nullable=True),
        sa.Column("vector_dimension", sa.Integer(), nullable=True),
        sa.Column("external_knowledge_api_id", sa.String(length=36), nullable=True),
        sa.Column("external_knowledge_id", sa.String(length=255), nullable=True),
        sa.Column("external_retrieval_model", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "permission IN ('only_me', 'all_team_members', 'partial_members')", name=op.f("ck_datasets_permission")
        ),
        sa.CheckConstraint("provider IN ('vendor', 'external')", name=op.f("ck_datasets_provider")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_datasets_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_datasets_tenant_id_name")),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datasets_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "external_knowledge_apis",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("api_key", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_external_knowledge_apis_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_knowledge_apis")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_external_knowledge_apis_tenant_id_name")),
    )
    with op.batch_alter_table("external_knowledge_apis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_external_knowledge_apis_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "tags",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.CheckConstraint("type IN ('knowledge', 'app')", name=op.f("ck_tags_type")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tags_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
    )
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tags_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "dataset_metadata_fields",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.CheckConstraint("type IN ('string', 'number', 'time')", name=op.f("ck_dataset_metadata_fields_type")),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_metadata_fields_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_dataset_metadata_fields_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_metadata_fields")),
        sa.UniqueConstraint("dataset_id", "name", name=op.f("uq_dataset_metadata_fields_dataset_id_name")),
    )
    with op.batch_alter_table("dataset_metadata_fields", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_metadata_fields_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dataset_metadata_fields_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "dataset_process_rules",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_process_rules_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_process_rules")),
    )
    with op.batch_alter_table("dataset_process_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_process_rules_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "dataset_queries",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_app_id", sa.String(length=36), nullable=True),
        sa.Column("created_by_role", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.CheckConstraint("source IN ('hit_testing', 'app', 'api')", name=op.f("ck_dataset_queries_source")),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_queries_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_queries")),
    )
    with op.batch_alter_table("dataset_queries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_queries_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dataset_queries_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "tag_bindings",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("tag_id", sa.String(length=36), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_tag_bindings_tag_id_tags"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tag_bindings_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_bindings")),
        sa.UniqueConstraint("tag_id", "target_id", name=op.f("uq_tag_bindings_tag_id_target_id")),
    )
    with op.batch_alter_table("tag_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tag_bindings_tag_id"), ["tag_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tag_bindings_target_id"), ["target_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tag_bindings_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "documents",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("data_source_type", sa.String(length=32), nullable=False),
        sa.Column("data_source_info", sa.JSON(), nullable=False),
        sa.Column("upload_file_id", sa.String(length=36), nullable=True),
        sa.Column("dataset_process_rule_id", sa.String(length=36), nullable=True),
        sa.Column("batch", sa.String(length=64), nullable=False),
        sa.Column("created_from", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("indexing_status", sa.String(length=16), nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("paused_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_by", sa.String(length=36), nullable=True),
        sa.Column("processing_started_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("parsing_completed_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleaning_completed_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("splitting_completed_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("indexing_latency", sa.Double(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_by", sa.String(length=36), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("archived_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived_by", sa.String(length=36), nullable=True),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("doc_form", sa.String(length=32), nullable=False),
        sa.Column("doc_language", sa.String(length=64), nullable=False),
        sa.Column("doc_type", sa.String(length=64), nullable=True),
        sa.Column("doc_metadata", sa.JSON(), nullable=False),
        sa.Column("indexing_attempts", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("created_from IN ('api', 'web', 'cli')", name=op.f("ck_documents_created_from")),
        sa.CheckConstraint(
            "indexing_status IN ('waiting', 'parsing', 'cleaning', 'splitting', 'indexing', 'completed', 'error')",
            name=op.f("ck_documents_indexing_status"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_documents_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dataset_process_rule_id"],
            ["dataset_process_rules.id"],
            name=op.f("fk_documents_dataset_process_rule_id_dataset_process_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_documents_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_batch"), ["batch"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_indexing_status"), ["indexing_status"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "document_segments",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("index_node_id", sa.String(length=36), nullable=True),
        sa.Column("index_node_hash", sa.String(length=64), nullable=True),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_by", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("indexing_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('waiting', 'indexing', 'completed', 'error')", name=op.f("ck_document_segments_status")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_document_segments_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_segments_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_document_segments_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_segments")),
        sa.UniqueConstraint("document_id", "position", name=op.f("uq_document_segments_document_id_position")),
    )
    with op.batch_alter_table("document_segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_segments_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_segments_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_segments_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "child_chunks",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("index_node_id", sa.String(length=36), nullable=True),
        sa.Column("index_node_hash", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("indexed", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("type IN ('automatic', 'custom')", name=op.f("ck_child_chunks_type")),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_child_chunks_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_child_chunks_document_id_documents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["document_segments.id"],
            name=op.f("fk_child_chunks_segment_id_document_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_child_chunks_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_chunks")),
    )
    with op.batch_alter_table("child_chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_child_chunks_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_child_chunks_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_child_chunks_segment_id"), ["segment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_child_chunks_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "knowledge_index_nodes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_knowledge_index_nodes_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_knowledge_index_nodes_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["document_segments.id"],
            name=op.f("fk_knowledge_index_nodes_segment_id_document_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_index_nodes")),
        sa.UniqueConstraint("node_id", name=op.f("uq_knowledge_index_nodes_node_id")),
    )
    with op.batch_alter_table("knowledge_index_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_index_nodes_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_knowledge_index_nodes_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_knowledge_index_nodes_segment_id"), ["segment_id"], unique=False)

    _create_full_text_index()


#: SQLite: an FTS5 table over ``knowledge_index_nodes`` (external content, so the text is stored
#: once), kept in step by triggers. Porter stemming over unicode61 words; ``bm25()`` ranks.
_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE knowledge_index_fts USING fts5("
    "content, keywords, content='knowledge_index_nodes', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER knowledge_index_nodes_ai AFTER INSERT ON knowledge_index_nodes BEGIN "
    "INSERT INTO knowledge_index_fts(rowid, content, keywords) VALUES (new.id, new.content, new.keywords); END",
    "CREATE TRIGGER knowledge_index_nodes_ad AFTER DELETE ON knowledge_index_nodes BEGIN "
    "INSERT INTO knowledge_index_fts(knowledge_index_fts, rowid, content, keywords) "
    "VALUES ('delete', old.id, old.content, old.keywords); END",
    "CREATE TRIGGER knowledge_index_nodes_au AFTER UPDATE ON knowledge_index_nodes BEGIN "
    "INSERT INTO knowledge_index_fts(knowledge_index_fts, rowid, content, keywords) "
    "VALUES ('delete', old.id, old.content, old.keywords); "
    "INSERT INTO knowledge_index_fts(rowid, content, keywords) VALUES (new.id, new.content, new.keywords); END",
)

#: PostgreSQL: generated ``tsvector`` columns (English stemming, as FTS5's porter) with GIN indexes.
_POSTGRES_FTS = (
    "ALTER TABLE knowledge_index_nodes ADD COLUMN content_tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED",
    "ALTER TABLE knowledge_index_nodes ADD COLUMN keywords_tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', keywords)) STORED",
    "CREATE INDEX ix_knowledge_index_nodes_content_tsv ON knowledge_index_nodes USING gin (content_tsv)",
    "CREATE INDEX ix_knowledge_index_nodes_keywords_tsv ON knowledge_index_nodes USING gin (keywords_tsv)",
)


def _create_full_text_index() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_FTS if dialect == "sqlite" else _POSTGRES_FTS if dialect == "postgresql" else ():
        op.execute(statement)


def _drop_full_text_index() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS knowledge_index_nodes_{trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_index_fts")


def downgrade() -> None:
    _drop_full_text_index()
    with op.batch_alter_table("knowledge_index_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_index_nodes_segment_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_index_nodes_document_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_index_nodes_dataset_id"))

    op.drop_table("knowledge_index_nodes")
    with op.batch_alter_table("child_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_child_chunks_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_child_chunks_segment_id"))
        batch_op.drop_index(batch_op.f("ix_child_chunks_document_id"))
        batch_op.drop_index(batch_op.f("ix_child_chunks_dataset_id"))

    op.drop_table("child_chunks")
    with op.batch_alter_table("document_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_segments_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_document_segments_document_id"))
        batch_op.drop_index(batch_op.f("ix_document_segments_dataset_id"))

    op.drop_table("document_segments")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_documents_indexing_status"))
        batch_op.drop_index(batch_op.f("ix_documents_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_documents_batch"))

    op.drop_table("documents")
    with op.batch_alter_table("tag_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tag_bindings_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_tag_bindings_target_id"))
        batch_op.drop_index(batch_op.f("ix_tag_bindings_tag_id"))

    op.drop_table("tag_bindings")
    with op.batch_alter_table("dataset_queries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_queries_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_queries_created_at"))

    op.drop_table("dataset_queries")
    with op.batch_alter_table("dataset_process_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_process_rules_dataset_id"))

    op.drop_table("dataset_process_rules")
    with op.batch_alter_table("dataset_metadata_fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_metadata_fields_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_metadata_fields_dataset_id"))

    op.drop_table("dataset_metadata_fields")
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tags_tenant_id"))

    op.drop_table("tags")
    with op.batch_alter_table("external_knowledge_apis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_knowledge_apis_tenant_id"))

    op.drop_table("external_knowledge_apis")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasets_tenant_id"))

    op.drop_table("datasets")
    op.drop_table("embedding_cache")
