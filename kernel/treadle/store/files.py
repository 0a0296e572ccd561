"""Uploaded files (Dify's ``upload_files``)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin, in_values

__all__ = ["UploadFile"]


class UploadFile(IdMixin, TimestampMixin, Base):
    """A file's record; the bytes live in the storage backend under ``storage_key``."""

    __tablename__ = "upload_files"
    __table_args__ = (CheckConstraint(in_values("created_by_role", ("account", "end_user")), name="created_by_role"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    #: Lower case with the dot (``.pdf``), or empty.
    extension: Mapped[str] = mapped_column(String(32), default="")
    mime_type: Mapped[str] = mapped_column(String(255), default="")
    #: SHA3-256 of the bytes, hex.
    hash: Mapped[str] = mapped_column(String(64), default="")
    created_by_role: Mapped[str] = mapped_column(String(16))
    #: An account id or an end user id, as ``created_by_role`` says.
    created_by: Mapped[str] = mapped_column(String(36))
    source_url: Mapped[str] = mapped_column(Text, default="")
