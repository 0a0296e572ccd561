"""Alembic: the initial revision builds every table on SQLite and PostgreSQL and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from support.databases import drop_schema, postgres_database, sqlite_database
from treadle.store import Base, Database, current_revision, drift, head_revision, upgrade_to_head
from treadle.store.migrate import include_object


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    # The full-text index's own tables (SQLite FTS5) are not models; the drift check leaves them out too.
    return {name for name in names if include_object(None, name, "table", True, None)}


async def _check_fresh_upgrade(db: Database) -> None:
    assert await current_revision(db) is None
    await upgrade_to_head(db)
    assert await current_revision(db) == head_revision()
    assert await _tables(db) == {*Base.metadata.tables, "alembic_version"}
    assert await drift(db) == []
    # A second upgrade finds nothing to do.
    await upgrade_to_head(db)
    assert await current_revision(db) == head_revision()


async def test_migrations_build_the_models_on_sqlite(tmp_path: Path) -> None:
    db = await sqlite_database(tmp_path, migrate=False)
    try:
        await _check_fresh_upgrade(db)
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_migrations_build_the_models_on_postgresql() -> None:
    db, schema = await postgres_database(migrate=False)
    try:
        await _check_fresh_upgrade(db)
    finally:
        await db.dispose()
        await drop_schema(schema)


async def test_drift_sees_a_table_the_migrations_lack(tmp_path: Path) -> None:
    """The drift check can fail: a database missing a table is reported."""
    db = await sqlite_database(tmp_path)
    try:
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE annotations")
        changes = await drift(db)
        assert ("add_table", "annotations") in [(c[0], c[1].name) for c in changes if c[0] == "add_table"]
    finally:
        await db.dispose()


async def test_full_text_index_follows_the_index_nodes_on_sqlite(tmp_path: Path) -> None:
    """Revision 0006's FTS5 table is kept in step with ``knowledge_index_nodes`` by its triggers:
    an insert is found, an update moves the match, a delete removes it (KB-RET-FULLTEXT)."""
    from sqlalchemy import text
    from treadle.store import Dataset, Document, DocumentSegment, IndexNode, Tenant

    db = await sqlite_database(tmp_path)
    try:
        async with db.session() as s:
            tenant = Tenant(name="T")
            s.add(tenant)
            await s.flush()
            dataset = Dataset(tenant_id=tenant.id, name="D")
            s.add(dataset)
            await s.flush()
            doc = Document(tenant_id=tenant.id, dataset_id=dataset.id, position=1, name="n", batch="b")
            s.add(doc)
            await s.flush()
            segment = DocumentSegment(
                tenant_id=tenant.id, dataset_id=dataset.id, document_id=doc.id, position=1, content="x"
            )
            s.add(segment)
            await s.flush()
            s.add(
                IndexNode(
                    node_id="n",
                    tenant_id=tenant.id,
                    dataset_id=dataset.id,
                    document_id=doc.id,
                    segment_id=segment.id,
                    content="Workflows run nodes in parallel",
                    keywords="workflow parallel",
                )
            )
            await s.commit()

        async def matches(query: str) -> list[str]:
            async with db.engine.connect() as c:
                rows = await c.execute(
                    text(
                        "SELECT n.node_id FROM knowledge_index_fts f JOIN knowledge_index_nodes n ON n.id = f.rowid"
                        " WHERE knowledge_index_fts MATCH :q"
                    ),
                    {"q": query},
                )
                return [row[0] for row in rows]

        assert await matches("running") == ["n"]  # porter stemming: running ~ run
        async with db.engine.begin() as c:
            await c.execute(text("UPDATE knowledge_index_nodes SET content = 'Chatflows answer' WHERE node_id = 'n'"))
        assert await matches("running") == []
        assert await matches("answer") == ["n"]
        async with db.engine.begin() as c:
            await c.execute(text("DELETE FROM knowledge_index_nodes WHERE node_id = 'n'"))
        assert await matches("answer") == []
    finally:
        await db.dispose()
