"""Dify's variable references in text: ``{{#node_id.var.path#}}`` (VAR-REF-SYNTAX).

A template is parsed once into literal parts and selectors; rendering looks each selector up. Both
the engine (Answer streaming) and node plugins use these functions, so text renders the same
everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["REFERENCE", "Selector", "find_selectors", "parse_template", "render_parts", "to_text"]

#: A variable's address: ``(node_id, name, *path)``, or ``("sys", "query")``, ``("env", "KEY")`` ...
Selector = tuple[str, ...]

#: ``{{#a.b#}}`` with at least two dot-separated parts; names are letters, digits, ``_`` and ``-``.
REFERENCE = re.compile(r"\{\{#([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+)#\}\}")

_SELECTOR_KEYS = frozenset({"value_selector", "variable_selector", "selector", "iterator_selector", "output_selector"})


def parse_template(text: str) -> list[str | Selector]:
    """Split ``text`` into literal strings and selectors, in order (empty literals left out)."""
    parts: list[str | Selector] = []
    last = 0
    for match in REFERENCE.finditer(text):
        if match.start() > last:
            parts.append(text[last : match.start()])
        parts.append(tuple(match.group(1).split(".")))
        last = match.end()
    if last < len(text):
        parts.append(text[last:])
    return parts


def to_text(value: Any) -> str:
    """How a value reads inside text: strings as they are, ``None`` as nothing, numbers and booleans
    in JSON spelling, objects and arrays as JSON (non-ASCII kept)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def render_parts(parts: list[str | Selector], lookup: Callable[[Selector], Any]) -> str:
    """Render parsed parts, looking each selector up with ``lookup``."""
    return "".join(part if isinstance(part, str) else to_text(lookup(part)) for part in parts)


def find_selectors(config: Any) -> Iterator[Selector]:
    """Every variable a node configuration refers to: selector lists under the usual keys and
    ``{{#...#}}`` references in text, in document order (duplicates kept)."""
    if isinstance(config, str):
        for match in REFERENCE.finditer(config):
            yield tuple(match.group(1).split("."))
    elif isinstance(config, Mapping):
        for key, value in config.items():
            if (
                key in _SELECTOR_KEYS
                and isinstance(value, list)
                and len(value) >= 2
                and all(isinstance(v, str) for v in value)
            ):
                yield tuple(value)
            else:
                yield from find_selectors(value)
    elif isinstance(config, list):
        for item in config:
            yield from find_selectors(item)
