"""Alembic migrations, run from code on the async engine (``treadle serve`` and tests call these).

The migration scripts live in ``treadle/store/migrations``; there is no ``alembic.ini``. A new
revision is written with :func:`autogenerate` against a database at head, then reviewed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from ..config import Settings
from .base import Base
from .database import Database

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "autogenerate",
    "current_revision",
    "drift",
    "head_revision",
    "include_object",
    "upgrade_to_head",
]

MIGRATIONS = Path(__file__).parent / "migrations"


#: Full-text search structures made by hand in revision 0006 (FTS5 on SQLite, ``tsvector`` columns
#: and GIN indexes on PostgreSQL): the models do not describe them, so comparisons leave them out.
_HAND_MADE_PREFIXES = ("knowledge_index_fts",)
_HAND_MADE_NAMES = frozenset(
    {"content_tsv", "keywords_tsv", "ix_knowledge_index_nodes_content_tsv", "ix_knowledge_index_nodes_keywords_tsv"}
)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's filter: everything but the hand-made full-text structures."""
    if name is None:
        return True
    return name not in _HAND_MADE_NAMES and not name.startswith(_HAND_MADE_PREFIXES)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for our migrations, bound to ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


async def upgrade_to_head(target: Settings | Database) -> None:
    """Bring the database to the newest revision (creating every table on an empty one)."""
    db = Database.from_settings(target) if isinstance(target, Settings) else target
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
    finally:
        if isinstance(target, Settings):
            await db.dispose()


async def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None when it was never migrated."""

    def read(sync: Connection) -> str | None:
        return MigrationContext.configure(sync).get_current_revision()

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


async def drift(db: Database) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty when none)."""

    def compare(sync: Connection) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"compare_type": True, "include_object": include_object})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as connection:
        return await connection.run_sync(compare)


async def autogenerate(db: Database, message: str) -> None:
    """Write a new revision script with what the models changed (for developers; review the result)."""
    async with db.engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.revision(alembic_config(sync), message=message, autogenerate=True)
        )
