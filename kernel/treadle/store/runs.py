"""Run records: workflow runs, their node executions, and engine checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin, in_values, json_column
from .types import utcnow

__all__ = ["NODE_STATUSES", "RUN_STATUSES", "CheckpointRecord", "NodeExecution", "WorkflowRun"]

RUN_STATUSES = ("running", "succeeded", "failed", "stopped", "partial-succeeded", "paused")
NODE_STATUSES = ("running", "succeeded", "failed", "exception", "stopped", "retry", "paused")


class WorkflowRun(IdMixin, Base):
    """One run of a workflow or chatflow, with what the logs show of it.

    ``created_by_role`` says which of ``created_by_account_id`` / ``created_by_end_user_id`` is set.
    """

    __tablename__ = "workflow_runs"
    __table_args__ = (
        CheckConstraint(in_values("status", RUN_STATUSES), name="status"),
        CheckConstraint(in_values("created_by_role", ("account", "end_user")), name="created_by_role"),
        Index(None, "app_id", "created_at"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    workflow_id: Mapped[str | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"), default=None)
    #: The workflow's version string at the time of the run (``draft`` or a published version).
    version: Mapped[str] = mapped_column(String(64))
    #: ``workflow`` or ``chat``.
    type: Mapped[str] = mapped_column(String(16), default="workflow")
    #: ``app-run``, ``debugging``, ``webhook``, ``schedule``, ``plugin``...
    triggered_from: Mapped[str] = mapped_column(String(32), default="app-run")
    status: Mapped[str] = mapped_column(String(32), default="running")
    inputs: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    #: Seconds.
    elapsed_time: Mapped[float] = mapped_column(default=0.0)
    total_tokens: Mapped[int] = mapped_column(default=0)
    total_steps: Mapped[int] = mapped_column(default=0)
    exceptions_count: Mapped[int] = mapped_column(default=0)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None
    )
    created_by_role: Mapped[str] = mapped_column(String(16))
    created_by_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    created_by_end_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("end_users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class NodeExecution(IdMixin, Base):
    """One execution of one node in a run (a node inside an iteration or loop runs once per round).

    ``execution_metadata`` carries Dify's fields: ``total_tokens``, ``total_price``, ``currency``,
    ``iteration_id``/``iteration_index``, ``loop_id``/``loop_index``, ``parallel_id``, tool info.
    """

    __tablename__ = "node_executions"
    __table_args__ = (
        CheckConstraint(in_values("status", NODE_STATUSES), name="status"),
        Index(None, "workflow_run_id", "index"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    workflow_run_id: Mapped[str] = mapped_column(ForeignKey("workflow_runs.id", ondelete="CASCADE"))
    #: Order of execution within the run, from 1.
    index: Mapped[int]
    predecessor_node_id: Mapped[str | None] = mapped_column(String(255), default=None)
    node_id: Mapped[str] = mapped_column(String(255))
    node_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255), default="")
    inputs: Mapped[dict[str, Any] | None] = mapped_column(json_column(), default=None)
    process_data: Mapped[dict[str, Any] | None] = mapped_column(json_column(), default=None)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(json_column(), default=None)
    status: Mapped[str] = mapped_column(String(32), default="running")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    elapsed_time: Mapped[float] = mapped_column(default=0.0)
    execution_metadata: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class CheckpointRecord(TimestampMixin, Base):
    """The latest engine checkpoint of a run (see :class:`treadle.store.checkpoints.SqlCheckpointStore`).

    Keyed by the engine's run id, which need not be a recorded :class:`WorkflowRun`.
    """

    __tablename__ = "workflow_checkpoints"

    run_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    data: Mapped[dict[str, Any]] = mapped_column(json_column())
