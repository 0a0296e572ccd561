"""api_based_extensions: a workspace's API extensions (moderation by an HTTP endpoint)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import treadle.store.types
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_based_extensions",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("api_endpoint", sa.String(length=1024), nullable=False),
        sa.Column("api_key", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_api_based_extensions_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_based_extensions")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_api_based_extensions_tenant_id_name")),
    )
    with op.batch_alter_table("api_based_extensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_based_extensions_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_based_extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_based_extensions_tenant_id"))
    op.drop_table("api_based_extensions")
