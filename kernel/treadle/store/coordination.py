"""What every server process must see, kept in the database: with several worker processes (or
several servers on one PostgreSQL), a request may land on any of them.

- ``run_stop_requests``: a stop asked of a task that another process is running; the process
  running it picks the request up and stops the run (API-CHAT-STOP, API-WF-STOP).
- ``app_active_requests``: a lease per request under way of an app with a concurrency limit
  (APP_MAX_ACTIVE_REQUESTS); a lease whose process died runs out at ``expires_at``.
- ``annotation_jobs``: the status of annotation reply enable/disable jobs (API-ANNOTATION-*).
- ``login_failures``: failed console sign-ins, counted per email over a window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin
from .types import utcnow

__all__ = ["ActiveRequest", "AnnotationJobRecord", "LoginFailure", "RunStopRequest"]


class RunStopRequest(Base):
    """A stop asked of task ``task_id`` of ``app_id`` by ``end_user_id`` (who must be its user)."""

    __tablename__ = "run_stop_requests"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    end_user_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ActiveRequest(IdMixin, Base):
    """A request of ``app_id`` under way, counted against the app's concurrency limit."""

    __tablename__ = "app_active_requests"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AnnotationJobRecord(IdMixin, Base):
    """An annotation reply job (``enable`` or ``disable``) of ``app_id`` and how it went."""

    __tablename__ = "annotation_jobs"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    #: waiting, processing, completed or error (Dify's job statuses).
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    error_msg: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()


class LoginFailure(IdMixin, Base):
    """A failed console sign-in of ``email`` (lowercased)."""

    __tablename__ = "login_failures"

    email: Mapped[str] = mapped_column(String(255), index=True)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
