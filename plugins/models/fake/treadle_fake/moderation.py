"""Moderation by keyword: a text is flagged when it contains one of a list of words.

The list comes from the provider credential ``moderation_keywords`` (a comma- or newline-separated
text, or a list), else :data:`DEFAULT_KEYWORDS`. Matching ignores case and finds keywords inside
longer words too ("Forbidden!" and "unforbiddenly" both match "forbidden").
"""

from __future__ import annotations

import re
from typing import Any

from treadle_sdk.errors import PluginInvalidArgument

__all__ = ["DEFAULT_KEYWORDS", "flagged", "keywords_of"]

DEFAULT_KEYWORDS = ("forbidden",)

_SEPARATORS = re.compile(r"[,\n]")


def keywords_of(credentials: dict[str, Any]) -> list[str]:
    """The keywords the credentials configure (lower-cased, blanks dropped), or the default ones."""
    raw = credentials.get("moderation_keywords")
    if raw is None or raw == "":
        return list(DEFAULT_KEYWORDS)
    if isinstance(raw, str):
        items: list[Any] = _SEPARATORS.split(raw)
    elif isinstance(raw, list):
        items = raw
    else:
        raise PluginInvalidArgument(
            f"credential 'moderation_keywords' must be a comma-separated text or a list, not {type(raw).__name__}",
            details={"field": "credentials.moderation_keywords"},
        )
    keywords = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise PluginInvalidArgument(
                f"credentials.moderation_keywords[{i}] must be text, not {type(item).__name__}",
                details={"field": f"credentials.moderation_keywords[{i}]"},
            )
        if item.strip():
            keywords.append(item.strip().casefold())
    return keywords


def flagged(text: str, keywords: list[str]) -> bool:
    """True when ``text`` contains any of ``keywords`` (already case-folded)."""
    folded = text.casefold()
    return any(keyword in folded for keyword in keywords)
