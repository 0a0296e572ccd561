"""The declarative base every table shares: constraint names, ids and timestamps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import UTCDateTime, new_id, utcnow

__all__ = ["ROLES", "Base", "IdMixin", "TimestampMixin", "in_values", "json_column"]

#: Workspace roles, most powerful first (WS-MEMBERS-*).
ROLES = ("owner", "admin", "editor", "normal", "dataset_operator")

# Named constraints keep migrations deterministic and let SQLite batch migrations find them again.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every Treadle table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class IdMixin:
    """A UUID string primary key."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)


class TimestampMixin:
    """``created_at`` and ``updated_at``, aware UTC; ``updated_at`` moves on every update."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def json_column() -> JSON:
    """The JSON type of every document column (``json`` on PostgreSQL, text on SQLite)."""
    return JSON()


def in_values(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression: ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
