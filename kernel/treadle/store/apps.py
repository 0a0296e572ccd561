"""Apps, their workflow versions (draft and published), end users and annotation replies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin, in_values, json_column

__all__ = ["APP_MODES", "DRAFT", "Annotation", "App", "EndUser", "Workflow"]

APP_MODES = ("workflow", "advanced-chat", "chat", "agent-chat", "completion")
#: The ``version`` of an app's draft workflow; published versions carry a timestamp string.
DRAFT = "draft"


class App(IdMixin, TimestampMixin, Base):
    """An app in one of the five modes.

    ``workflow_id`` names the published workflow version in force (None until the first publish);
    it is not a foreign key, because versions also point back at their app. ``model_config`` holds
    the configuration of chat, agent-chat and completion apps; workflow apps keep theirs in
    :class:`Workflow`.
    """

    __tablename__ = "apps"
    __table_args__ = (
        CheckConstraint(in_values("mode", APP_MODES), name="mode"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    icon_type: Mapped[str] = mapped_column(String(16), default="emoji")
    icon: Mapped[str] = mapped_column(String(255), default="🤖")
    icon_background: Mapped[str] = mapped_column(String(32), default="#FFEAD5")
    enable_site: Mapped[bool] = mapped_column(default=True)
    enable_api: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(32), default="normal")
    workflow_id: Mapped[str | None] = mapped_column(String(36), default=None)
    model_config: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    #: The web app's settings (title, description, copyright, privacy policy, theme...).
    site: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    #: The web app's public access code (``/chat/<code>``).
    site_code: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    api_rpm: Mapped[int] = mapped_column(default=0)
    api_rph: Mapped[int] = mapped_column(default=0)
    max_active_requests: Mapped[int | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)


class Workflow(IdMixin, TimestampMixin, Base):
    """One version of an app's workflow: the draft (``version == "draft"``, one per app) or a published one.

    Secret environment variables are stored encrypted (by the tenancy layer) inside
    ``environment_variables``.
    """

    __tablename__ = "workflows"
    __table_args__ = (
        UniqueConstraint("app_id", "version"),
        CheckConstraint(in_values("type", ("workflow", "chat")), name="type"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    #: ``workflow`` for workflow apps, ``chat`` for chatflows (advanced-chat).
    type: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64), default=DRAFT)
    marked_name: Mapped[str] = mapped_column(String(255), default="")
    marked_comment: Mapped[str] = mapped_column(Text, default="")
    graph: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    features: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    environment_variables: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), default=list)
    conversation_variables: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), default=list)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)


class EndUser(IdMixin, TimestampMixin, Base):
    """Someone using an app through the Service API or web app; ``session_id`` is Dify's ``user``."""

    __tablename__ = "end_users"
    __table_args__ = (UniqueConstraint("app_id", "session_id"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    #: ``service_api`` or ``browser`` (web app).
    type: Mapped[str] = mapped_column(String(32), default="service_api")
    session_id: Mapped[str] = mapped_column(String(255))
    is_anonymous: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(255), default=None)


class Annotation(IdMixin, TimestampMixin, Base):
    """A curated question and answer of an app; a close enough query is answered with it (annotation reply)."""

    __tablename__ = "annotations"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    hit_count: Mapped[int] = mapped_column(default=0)
    #: The message it was made from, when it was made from one.
    message_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
