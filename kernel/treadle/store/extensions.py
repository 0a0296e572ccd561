"""API-based extensions: HTTP endpoints a workspace registers to extend its apps (moderation today),
each with an API key kept sealed by the workspace cipher."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin

__all__ = ["ApiBasedExtension"]


class ApiBasedExtension(IdMixin, TimestampMixin, Base):
    """One API extension of a workspace: a name, the endpoint it is called at, and its key (sealed)."""

    __tablename__ = "api_based_extensions"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    api_endpoint: Mapped[str] = mapped_column(String(1024))
    #: The API key, encrypted with the workspace cipher (never stored in the clear).
    api_key: Mapped[str] = mapped_column(Text)
