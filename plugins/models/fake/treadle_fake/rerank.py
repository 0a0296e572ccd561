"""Rerank by word overlap: a document's score is the share of the query's words it contains.

Words are runs of letters, digits and underscores, compared case-insensitively; each distinct query
word counts once. A document with every query word scores 1.0, one with none 0.0, and a query with
no words scores every document 0.0. Ties keep the documents' order.
"""

from __future__ import annotations

import re

from treadle_sdk.model_runtime import RerankDocument

__all__ = ["overlap", "rerank"]

_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def overlap(query: str, doc: str) -> float:
    """The share of the query's distinct words that ``doc`` contains (0.0 to 1.0)."""
    wanted = _words(query)
    if not wanted:
        return 0.0
    return len(wanted & _words(doc)) / len(wanted)


def rerank(query: str, docs: list[str], score_threshold: float | None, top_n: int | None) -> list[RerankDocument]:
    """The documents scored, best first, without those under ``score_threshold``, at most ``top_n``."""
    scored = [RerankDocument(index=i, text=doc, score=overlap(query, doc)) for i, doc in enumerate(docs)]
    scored.sort(key=lambda doc: -doc.score)  # stable: ties keep their input order
    if score_threshold is not None:
        scored = [doc for doc in scored if doc.score >= score_threshold]
    return scored if top_n is None else scored[: max(top_n, 0)]
