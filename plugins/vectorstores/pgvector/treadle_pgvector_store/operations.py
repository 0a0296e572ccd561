"""Everything the pgvector store asks of PostgreSQL: a table per collection, searched by cosine distance."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import (
    CollectionArgs,
    CreateCollectionArgs,
    DeleteVectorsArgs,
    DeleteWhereArgs,
    SearchVectorsArgs,
    UpsertVectorsArgs,
    VectorHit,
    VectorRecord,
)
from treadle_sdk.vector_filter import FilterCondition, parse_vector_filter

from .config import PgvectorConfig, config_of
from .connections import Connections
from .statements import CollectionTables, filter_sql, vector_literal

__all__ = ["HNSW_MAX_DIMENSION", "HNSW_MAX_EF_SEARCH", "PgvectorTables"]

#: pgvector's HNSW index takes vectors of up to 2000 dimensions; longer ones are searched exactly.
HNSW_MAX_DIMENSION = 2000
#: The most candidates one HNSW scan may look at (pgvector's limit for ``hnsw.ef_search``).
HNSW_MAX_EF_SEARCH = 1000


def _dimension(connection: psycopg.Connection, tables: CollectionTables) -> int | None:
    """The dimension of the collection's ``embedding`` column; None when it has no table."""
    row = connection.execute(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'embedding'"
        " AND NOT attisdropped",
        (tables.table.as_string(connection),),
    ).fetchone()
    return None if row is None else int(row[0])


def _check_length(collection: str, dimension: int, vector: Sequence[float], what: str) -> None:
    if len(vector) != dimension:
        raise PluginInvalidArgument(
            f"{what} has {len(vector)} dimensions, but collection {collection!r} holds vectors of {dimension}",
            details={"collection": collection, "dimension": dimension, "given": len(vector)},
        )


def _check_storable(record: VectorRecord, metadata_json: str) -> None:
    # PostgreSQL text and jsonb cannot hold NUL; say which record instead of failing the whole batch.
    if "\x00" in record.text or "\\u0000" in metadata_json:
        raise PluginInvalidArgument(
            f"record {record.id!r} holds a NUL character in its text or metadata, which PostgreSQL cannot store",
            details={"record_id": record.id},
        )


class PgvectorTables:
    """The store's operations, over a pool of connections per ``dsn``."""

    def __init__(self) -> None:
        self._pools: dict[str, Connections] = {}
        self._lock = threading.Lock()

    def _connections(self, config: PgvectorConfig) -> Connections:
        with self._lock:
            found = self._pools.get(config.dsn)
            if found is None:
                found = self._pools[config.dsn] = Connections(config.dsn)
            return found

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def create_collection(self, args: CreateCollectionArgs) -> None:
        config = config_of(args)
        tables = CollectionTables.of(config.table_prefix, args.collection)
        with self._connections(config).connection() as connection, connection.transaction():
            # Two callers creating the same collection at once would collide on the catalog.
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (tables.name,))
            existing = _dimension(connection, tables)
            if existing is not None:
                if existing != args.dimension:
                    raise PluginInvalidArgument(
                        f"collection {args.collection!r} exists with dimension {existing}; it cannot be created "
                        f"with dimension {args.dimension}",
                        details={"collection": args.collection, "dimension": existing, "given": args.dimension},
                    )
                return
            connection.execute(
                sql.SQL(
                    "CREATE TABLE {} (id text PRIMARY KEY, embedding vector({}) NOT NULL,"
                    " text text NOT NULL DEFAULT '', metadata jsonb NOT NULL DEFAULT '{{}}')"
                ).format(tables.table, sql.Literal(args.dimension))
            )
            if args.dimension <= HNSW_MAX_DIMENSION:
                connection.execute(
                    sql.SQL("CREATE INDEX {} ON {} USING hnsw (embedding vector_cosine_ops)").format(
                        tables.hnsw_index, tables.table
                    )
                )
            connection.execute(
                sql.SQL("CREATE INDEX {} ON {} USING gin (metadata jsonb_path_ops)").format(
                    tables.metadata_index, tables.table
                )
            )

    def upsert(self, args: UpsertVectorsArgs) -> int:
        config = config_of(args)
        tables = CollectionTables.of(config.table_prefix, args.collection)
        with self._connections(config).connection() as connection, connection.transaction():
            dimension = _dimension(connection, tables)
            if dimension is None:
                raise PluginNotFound(
                    f"collection {args.collection!r} does not exist; create it (create_collection) before upserting",
                    details={"collection": args.collection},
                )
            rows = []
            for record in args.records:
                _check_length(args.collection, dimension, record.vector, f"the vector of record {record.id!r}")
                metadata = json.dumps(record.metadata)
                _check_storable(record, metadata)
                rows.append((record.id, vector_literal(record.vector), record.text, Jsonb(record.metadata)))
            if rows:
                with connection.cursor() as cursor:
                    cursor.executemany(
                        sql.SQL(
                            "INSERT INTO {} (id, embedding, text, metadata) VALUES (%s, %s::vector, %s, %s)"
                            " ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding, text = excluded.text,"
                            " metadata = excluded.metadata"
                        ).format(tables.table),
                        rows,
                    )
        return len(args.records)

    def search(self, args: SearchVectorsArgs) -> list[VectorHit]:
        conditions = parse_vector_filter(args.filter)
        if any(condition.matches_nothing for condition in conditions):
            return []
        config = config_of(args)
        tables = CollectionTables.of(config.table_prefix, args.collection)
        connections = self._connections(config)
        with connections.connection() as connection, connection.transaction():
            dimension = _dimension(connection, tables)
            if dimension is None:
                return []
            _check_length(args.collection, dimension, args.vector, "the query vector")
            rows = connection.execute(
                self._search_sql(tables, dimension, conditions, args.top_k, connections, connection),
                {"query": vector_literal(args.vector), "top_k": args.top_k},
            ).fetchall()
        hits = []
        for id, text, metadata, distance in rows:
            # Rounding can take a distance of unit vectors a hair outside [0, 2].
            score = max(-1.0, min(1.0, 1.0 - float(distance)))
            if args.score_threshold is not None and score < args.score_threshold:
                break  # best first: the rest score lower still
            hits.append(VectorHit(id=id, score=score, text=text, metadata=metadata))
        return hits

    def _search_sql(
        self,
        tables: CollectionTables,
        dimension: int,
        conditions: Sequence[FilterCondition],
        top_k: int,
        connections: Connections,
        connection: psycopg.Connection,
    ) -> sql.Composed:
        where = filter_sql(conditions)
        indexed = dimension <= HNSW_MAX_DIMENSION and top_k <= HNSW_MAX_EF_SEARCH
        if indexed and (not conditions or connections.iterative_scan):
            # An HNSW scan yields at most ef_search rows: never fewer than the hits asked for.
            connection.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(40, top_k)),))
            if conditions:
                connection.execute("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)")
            return sql.SQL(
                "SELECT id, text, metadata, embedding <=> %(query)s::vector AS distance FROM {} WHERE {}"
                " ORDER BY distance LIMIT %(top_k)s"
            ).format(tables.table, where)
        # Exact: rank every row the filter keeps (the CTE keeps the HNSW index out of it).
        return sql.SQL(
            "WITH kept AS MATERIALIZED (SELECT id, text, metadata, embedding FROM {} WHERE {})"
            " SELECT id, text, metadata, embedding <=> %(query)s::vector AS distance FROM kept"
            " ORDER BY distance LIMIT %(top_k)s"
        ).format(tables.table, where)

    def _delete(self, args: CollectionArgs, where: sql.Composable, params: Sequence[Any] = ()) -> int:
        """Delete the rows ``where`` holds for; a collection without a table has nothing to delete."""
        config = config_of(args)
        tables = CollectionTables.of(config.table_prefix, args.collection)
        statement = sql.SQL("DELETE FROM {} WHERE {}").format(tables.table, where)
        try:
            with self._connections(config).connection() as connection, connection.transaction():
                return max(connection.execute(statement, params).rowcount, 0)
        except psycopg.errors.UndefinedTable:
            return 0

    def delete(self, args: DeleteVectorsArgs) -> int:
        if not args.ids:
            return 0
        return self._delete(args, sql.SQL("id = ANY(%s)"), (list(args.ids),))

    def delete_where(self, args: DeleteWhereArgs) -> int:
        conditions = parse_vector_filter(args.filter)
        if any(condition.matches_nothing for condition in conditions):
            return 0
        return self._delete(args, filter_sql(conditions))

    def count(self, args: CollectionArgs) -> int:
        config = config_of(args)
        tables = CollectionTables.of(config.table_prefix, args.collection)
        try:
            with self._connections(config).connection() as connection, connection.transaction():
                row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(tables.table)).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return 0 if row is None else int(row[0])

    def drop_collection(self, args: CollectionArgs) -> None:
        config = config_of(args)
        tables = CollectionTables.of(config.table_prefix, args.collection)
        with self._connections(config).connection() as connection, connection.transaction():
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(tables.table))
