"""coordination: what every server process must see (stop requests, active request leases,
annotation jobs, login failures)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import treadle.store.types
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("failed_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_failed_at"), ["failed_at"], unique=False)

    op.create_table(
        "annotation_jobs",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_msg", sa.Text(), nullable=True),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", treadle.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_annotation_jobs_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_jobs")),
    )
    with op.batch_alter_table("annotation_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annotation_jobs_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_annotation_jobs_created_at"), ["created_at"], unique=False)

    op.create_table(
        "app_active_requests",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_app_active_requests_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_active_requests")),
    )
    with op.batch_alter_table("app_active_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_active_requests_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_app_active_requests_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "run_stop_requests",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("end_user_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", treadle.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_run_stop_requests_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_run_stop_requests")),
    )
    with op.batch_alter_table("run_stop_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_stop_requests_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_run_stop_requests_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_stop_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_stop_requests_created_at"))
        batch_op.drop_index(batch_op.f("ix_run_stop_requests_app_id"))

    op.drop_table("run_stop_requests")
    with op.batch_alter_table("app_active_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_active_requests_expires_at"))
        batch_op.drop_index(batch_op.f("ix_app_active_requests_app_id"))

    op.drop_table("app_active_requests")
    with op.batch_alter_table("annotation_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annotation_jobs_created_at"))
        batch_op.drop_index(batch_op.f("ix_annotation_jobs_app_id"))

    op.drop_table("annotation_jobs")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_failed_at"))
        batch_op.drop_index(batch_op.f("ix_login_failures_email"))

    op.drop_table("login_failures")
