"""Workspaces (Dify's tenants), accounts, memberships with roles, and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import ROLES, Base, IdMixin, TimestampMixin, in_values, json_column
from .types import utcnow

__all__ = ["ACCOUNT_STATUSES", "API_KEY_TYPES", "Account", "ApiKey", "Tenant", "TenantMember"]

ACCOUNT_STATUSES = ("pending", "uninitialized", "active", "banned", "closed")
API_KEY_TYPES = ("app", "dataset")


class Tenant(IdMixin, TimestampMixin, Base):
    """A workspace: everything else belongs to one."""

    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(in_values("status", ("normal", "archive")), name="status"),)

    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default="normal")
    #: Workspace-level settings (branding, defaults) as a document.
    custom_config: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)


class Account(IdMixin, TimestampMixin, Base):
    """A person who signs in to the console; ``password_hash`` is an argon2 hash, or None (invited)."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(in_values("status", ACCOUNT_STATUSES), name="status"),)

    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    status: Mapped[str] = mapped_column(String(32), default="active")
    interface_language: Mapped[str] = mapped_column(String(16), default="en-US")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    last_active_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Console sessions carry the version they were issued under; raising it (password change,
    #: "sign out everywhere") ends every older session.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")


class TenantMember(IdMixin, TimestampMixin, Base):
    """An account's membership of a workspace, with its role; ``current`` marks the workspace in use."""

    __tablename__ = "tenant_members"
    __table_args__ = (
        UniqueConstraint("tenant_id", "account_id"),
        CheckConstraint(in_values("role", ROLES), name="role"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    current: Mapped[bool] = mapped_column(default=False)
    invited_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)


class ApiKey(IdMixin, Base):
    """A Service API key (``app``, bound to one app) or knowledge API key (``dataset``, workspace-wide).

    Only a hash of the token is kept; ``prefix`` is what lists show (``app-AbC1…``).
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(in_values("type", API_KEY_TYPES), name="type"),
        CheckConstraint("type = 'dataset' OR app_id IS NOT NULL", name="app_key_has_app"),
        Index(None, "tenant_id", "type"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    app_id: Mapped[str | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True, default=None)
    type: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
