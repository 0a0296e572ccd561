"""The SQL of the pgvector store: table names derived from collections, and filters as jsonb
conditions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql
from psycopg.types.json import Jsonb
from treadle_sdk.vector_filter import FilterCondition

__all__ = ["CollectionTables", "filter_sql", "identifier", "vector_literal"]

#: PostgreSQL cuts identifiers at 63 bytes; longer names are shortened with a digest of the whole.
MAX_IDENTIFIER_BYTES = 63


def identifier(name: str) -> str:
    """``name``, or, when it is too long for PostgreSQL, a prefix of it and a digest of all of it
    (two collections never share a table, however long their names)."""
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: MAX_IDENTIFIER_BYTES - len(digest) - 1]}_{digest}"


@dataclass(frozen=True)
class CollectionTables:
    """The table of a collection and the names of its indexes (all quoted as identifiers)."""

    name: str

    @classmethod
    def of(cls, prefix: str, collection: str) -> CollectionTables:
        return cls(identifier(f"{prefix}{collection}"))

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(self.name)

    @property
    def hnsw_index(self) -> sql.Identifier:
        return sql.Identifier(identifier(f"{self.name}_hnsw"))

    @property
    def metadata_index(self) -> sql.Identifier:
        return sql.Identifier(identifier(f"{self.name}_metadata"))


def vector_literal(vector: Sequence[float]) -> str:
    """A vector as pgvector reads it from text: ``[0.1,0.2,...]``."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _any_of(field: str, values: Sequence[object]) -> sql.Composed:
    # Containment (@>) is what the GIN index on metadata (jsonb_path_ops) answers.
    return sql.SQL("({})").format(
        sql.SQL(" OR ").join(sql.SQL("metadata @> {}").format(sql.Literal(Jsonb({field: v}))) for v in values)
    )


def filter_sql(conditions: Sequence[FilterCondition]) -> sql.Composable:
    """A WHERE condition for ``conditions`` (``TRUE`` for none). Callers rule out ``{"in": []}``
    first; ``{"not_in": []}`` excludes nothing."""
    parts: list[sql.Composable] = []
    for condition in conditions:
        if not condition.values:
            continue
        matching = _any_of(condition.field, condition.values)
        parts.append(sql.SQL("NOT {}").format(matching) if condition.op == "not_in" else matching)
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")
