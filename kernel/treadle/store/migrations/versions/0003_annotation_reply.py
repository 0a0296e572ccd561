"""annotation reply: app_annotation_settings and annotation_embeddings

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import treadle.store.types
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_annotation_settings",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("score_threshold", sa.Double(), nullable=False),
        sa.Column("embedding_provider_name", sa.String(length=255), nullable=False),
        sa.Column("embedding_model_name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "score_threshold >= 0 AND score_threshold <= 1",
            name=op.f("ck_app_annotation_settings_score_threshold"),
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_app_annotation_settings_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_app_annotation_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_annotation_settings")),
        sa.UniqueConstraint("app_id", name=op.f("uq_app_annotation_settings_app_id")),
    )
    with op.batch_alter_table("app_annotation_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_annotation_settings_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "annotation_embeddings",
        sa.Column("annotation_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("question_hash", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.JSON(), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotation_id"],
            ["annotations.id"],
            name=op.f("fk_annotation_embeddings_annotation_id_annotations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_annotation_embeddings_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("annotation_id", name=op.f("pk_annotation_embeddings")),
    )
    with op.batch_alter_table("annotation_embeddings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annotation_embeddings_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("annotation_embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annotation_embeddings_app_id"))

    op.drop_table("annotation_embeddings")
    with op.batch_alter_table("app_annotation_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_annotation_settings_tenant_id"))

    op.drop_table("app_annotation_settings")
