"""Finding the JSON object in a model's answer.

Models asked for JSON wrap it in prose, in a Markdown fence (```json ... ```), after a ``<think>``
block, or leave a trailing comma. :func:`find_json_object` tries, in order: the whole text, the text
of each fence, and each ``{`` (then ``[``) where a JSON value starts; a value that is an array gives
its first object. A second pass forgives trailing commas.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .reasoning import ThinkSplitter

__all__ = ["find_json_object"]

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_DECODER = json.JSONDecoder()
#: How many starting points one pass tries (long prose full of braces must not take quadratic time).
_MAX_STARTS = 200


def _without_thinking(text: str) -> str:
    splitter = ThinkSplitter()
    parts = splitter.feed(text) + splitter.flush()
    return "".join(part for thinking, part in parts if not thinking)


def _object_of(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return next((item for item in value if isinstance(item, dict)), None)
    return None


def _scan(text: str) -> dict[str, Any] | None:
    try:
        found = _object_of(json.loads(text))
    except ValueError:
        found = None
    if found is not None:
        return found
    for opener in "{[":
        start = text.find(opener)
        for _ in range(_MAX_STARTS):
            if start < 0:
                break
            try:
                value, _end = _DECODER.raw_decode(text, start)
            except ValueError:
                value = None
            found = _object_of(value)
            if found is not None:
                return found
            start = text.find(opener, start + 1)
    return None


def find_json_object(text: str) -> dict[str, Any] | None:
    """The JSON object a model's answer holds, or None when there is none."""
    text = _without_thinking(text).strip()
    candidates = [text, *(match.group(1).strip() for match in _FENCE.finditer(text))]
    for forgive in (False, True):
        for candidate in candidates:
            found = _scan(_TRAILING_COMMA.sub(r"\1", candidate) if forgive else candidate)
            if found is not None:
                return found
    return None
