"""Alembic environment: runs on the connection :mod:`treadle.store.migrate` passes in."""

from __future__ import annotations

from alembic import context
from treadle.store import tables
from treadle.store.base import Base
from treadle.store.migrate import include_object

assert tables.ALL  # every table module is imported, so the metadata is complete

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through treadle.store.migrate (upgrade_to_head), not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    include_object=include_object,
    # SQLite alters tables by copying them; batch mode does that for later revisions.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
