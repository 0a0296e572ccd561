"""apps published as MCP servers

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import treadle.store.types
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_mcp_servers",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("server_code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("require_api_key", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("ck_app_mcp_servers_status")),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_app_mcp_servers_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_app_mcp_servers_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_mcp_servers")),
        sa.UniqueConstraint("app_id", name=op.f("uq_app_mcp_servers_app_id")),
        sa.UniqueConstraint("server_code", name=op.f("uq_app_mcp_servers_server_code")),
    )
    op.create_index(op.f("ix_app_mcp_servers_tenant_id"), "app_mcp_servers", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_app_mcp_servers_tenant_id"), table_name="app_mcp_servers")
    op.drop_table("app_mcp_servers")
