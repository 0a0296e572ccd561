"""Full-text search over the index rows of datasets (KB-RET-FULLTEXT, KB-INDEX-ECONOMICAL).

The engine's own index does the work, so a query costs an index lookup, not a scan: on SQLite the
FTS5 table ``knowledge_index_fts`` (porter stemming over unicode61 words, ranked by ``bm25()``), on
PostgreSQL the generated ``tsvector`` columns with GIN indexes (English stemming, ranked by
``ts_rank_cd`` with length normalisation); both are made by migration 0006.

The query is not handed to either engine's query language. It is cut into words (runs of letters
and digits, case-folded), English stop words are dropped (unless nothing else is left: "what is
it" still searches), each remaining word is quoted as a term of its own, and the terms are OR-ed.
So Markdown, punctuation and operator characters in a query are plain text, and no query can
inject FTS syntax. Stemming happens in the engine, on both the indexed text and the query terms.

On PostgreSQL the English dictionary keeps stop words out of the index, so a query made only of
stop words finds nothing there (SQLite indexes every word and finds it).

Scores are normalised per query to 0..1: the best hit scores 1.0 and every other its engine score
divided by the best one's (bm25 and ts_rank_cd are both 0 for "no match", so 0 stays the floor).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..store import Database
from .errors import KnowledgeError

__all__ = ["STOP_WORDS", "FullTextHit", "NodeFilter", "query_terms", "search_full_text"]

#: At most this many distinct terms of a query are searched (a pasted page is not a query).
MAX_TERMS = 32
#: SQLite: how many of the index's best matches are looked at first (see ``_search``).
FAST_PATH_ROWS = 200

#: English function words: they match nearly every chunk and say nothing about which one is meant.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are aren as at be because been before being below
    between both but by can cannot could did didn do does doesn doing don down during each few for from
    further had hadn has hasn have haven having he her here hers herself him himself his how i if in into
    is isn it its itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same shall she should shouldn so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was wasn we were
    weren what when where which while who whom why will with won would wouldn you your yours yourself
    yourselves s t ll re ve d m o y also via e g i.e etc
    """.split()
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class NodeFilter:
    """Which documents' rows may match: only those of ``document_ids`` when it is given, and never
    those of ``excluded_document_ids`` (disabled, archived, not yet indexed, filtered by metadata)."""

    document_ids: Collection[str] | None = None
    excluded_document_ids: Collection[str] = ()


@dataclass(frozen=True, slots=True)
class FullTextHit:
    """An index row that matched: the piece (``node_id``, the vector id too), its segment and
    document, and its score normalised to 0..1 (1.0 for the query's best hit)."""

    node_id: str
    segment_id: str
    document_id: str
    score: float


def query_terms(query: str) -> list[str]:
    """The words of ``query`` to search for, in order, each once: case-folded, stop words dropped
    (all of them kept when the query has nothing else), at most :data:`MAX_TERMS`."""
    words = list(dict.fromkeys(_WORD.findall(query.casefold())))
    content = [w for w in words if w not in STOP_WORDS]
    return (content or words)[:MAX_TERMS]


async def search_full_text(
    session_or_db: AsyncSession | Database,
    dataset_ids: Sequence[str],
    query: str,
    top_k: int,
    *,
    node_filter: NodeFilter | None = None,
    keywords_only: bool = False,
) -> list[FullTextHit]:
    """The ``top_k`` index rows of ``dataset_ids`` that best match ``query``, best first.

    ``keywords_only`` searches the chunks' keywords instead of their text (economical indexing).
    A query with no words, no datasets or a filter that allows no document finds nothing.
    """
    terms = query_terms(query)
    node_filter = node_filter or NodeFilter()
    if not terms or not dataset_ids or top_k <= 0 or (
        node_filter.document_ids is not None and not node_filter.document_ids
    ):  # fmt: skip
        return []
    def search(connection: Connection) -> list[FullTextHit]:
        return _search(connection, dataset_ids, terms, top_k, node_filter, keywords_only)

    if isinstance(session_or_db, Database):
        # One step (Database.read): on SQLite a worker thread, so the search runs beside the vector search.
        return await session_or_db.read(search)
    return await session_or_db.run_sync(lambda session: search(session.connection()))


def _search(
    connection: Connection,
    dataset_ids: Sequence[str],
    terms: list[str],
    top_k: int,
    node_filter: NodeFilter,
    keywords_only: bool,
) -> list[FullTextHit]:
    dialect = connection.dialect.name
    params: dict[str, Any] = {"dataset_ids": list(dataset_ids), "limit": top_k}
    expanding = ["dataset_ids"]
    conditions = ["n.dataset_id IN :dataset_ids"]
    if node_filter.document_ids is not None:
        conditions.append("n.document_id IN :document_ids")
        params["document_ids"] = list(node_filter.document_ids)
        expanding.append("document_ids")
    if node_filter.excluded_document_ids:
        conditions.append("n.document_id NOT IN :excluded")
        params["excluded"] = list(node_filter.excluded_document_ids)
        expanding.append("excluded")
    where = " AND ".join(conditions)
    if dialect == "sqlite":
        column = "keywords" if keywords_only else "content"
        # Each term a quoted string ("" escapes a quote): FTS5 reads it as one phrase, never as syntax.
        params["match"] = " OR ".join(f'{column} : "{term.replace(chr(34), chr(34) * 2)}"' for term in terms)
        # The index is shared by every dataset, so its best matches are ranked first (FTS5 ranks
        # inside the virtual table, ``rank`` being bm25, lower for better) and only the best
        # FAST_PATH_ROWS are joined to their rows and filtered. That is exact whenever it yields
        # top_k rows: a row left out ranks below all of those. Otherwise the query runs again
        # over every match. CROSS JOIN keeps the FTS side as the outer loop.
        params["fast"] = max(FAST_PATH_ROWS, 10 * top_k)
        fast = (
            "SELECT n.node_id, n.segment_id, n.document_id, t.rank FROM (SELECT rowid, rank "
            "FROM knowledge_index_fts WHERE knowledge_index_fts MATCH :match ORDER BY rank LIMIT :fast) AS t "
            f"CROSS JOIN knowledge_index_nodes AS n ON n.id = t.rowid WHERE {where} ORDER BY t.rank LIMIT :limit"
        )
        statement = text(fast).bindparams(*(bindparam(name, expanding=True) for name in expanding))
        rows = connection.execute(statement, params).all()
        if len(rows) == top_k:
            return _normalised(rows)
        sql = (
            "SELECT n.node_id, n.segment_id, n.document_id, knowledge_index_fts.rank AS rank "
            "FROM knowledge_index_fts CROSS JOIN knowledge_index_nodes AS n ON n.id = knowledge_index_fts.rowid "
            f"WHERE knowledge_index_fts MATCH :match AND {where} ORDER BY rank LIMIT :limit"
        )
    elif dialect == "postgresql":
        config, column = ("simple", "keywords_tsv") if keywords_only else ("english", "content_tsv")
        # The terms hold letters and digits only (query_terms), so none is tsquery syntax.
        params["tsquery"] = " | ".join(terms)
        query = f"to_tsquery('{config}', :tsquery)"
        sql = (
            f"SELECT n.node_id, n.segment_id, n.document_id, ts_rank_cd(n.{column}, {query}, 1) AS rank "
            f"FROM knowledge_index_nodes AS n WHERE n.{column} @@ {query} AND {where} "
            "ORDER BY rank DESC LIMIT :limit"
        )
    else:
        raise KnowledgeError(f"full-text search is not available on {dialect!r} databases")
    statement = text(sql).bindparams(*(bindparam(name, expanding=True) for name in expanding))
    rows = connection.execute(statement, params).all()
    return _normalised(rows)


def _normalised(rows: Sequence[Any]) -> list[FullTextHit]:
    if not rows:
        return []
    best = float(rows[0].rank)
    hits = []
    for row in rows:
        # bm25 is negative (more negative is better), ts_rank_cd positive: either way the ratio to the
        # best is in (0, 1]. A best of 0 (every term in every row) ranks all alike.
        score = float(row.rank) / best if best else 1.0
        hits.append(FullTextHit(row.node_id, row.segment_id, row.document_id, max(0.0, min(1.0, score))))
    return hits
