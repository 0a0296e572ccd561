"""Variable selectors in node configurations: ``[node_id, name, *path]`` lists (VAR-REF-SYNTAX).

Checked once when a node is prepared and kept as tuples, so runs pass them to the runtime as they are.
"""

from __future__ import annotations

from typing import Any

from treadle_sdk.nodes import NodeConfigError
from treadle_sdk.templates import Selector

__all__ = ["dotted", "is_selector", "parse_optional_selector", "parse_selector"]


def is_selector(value: Any) -> bool:
    """True for a list of at least two non-empty strings."""
    return isinstance(value, list | tuple) and len(value) >= 2 and all(isinstance(part, str) and part for part in value)


def parse_selector(value: Any, path: str) -> Selector:
    """``value`` as a selector; :class:`NodeConfigError` at ``path`` if it is not one."""
    if isinstance(value, list | tuple) and len(value) >= 2 and all(isinstance(p, str | int) for p in value):
        parts = tuple(str(part) for part in value)
        if all(parts):
            return parts
    raise NodeConfigError(f"expected a variable selector such as [node_id, variable], not {value!r}", path)


def parse_optional_selector(value: Any, path: str) -> Selector | None:
    """Like :func:`parse_selector`, but ``None`` and an empty list mean "no variable"."""
    if value is None or (isinstance(value, list | tuple) and not value):
        return None
    return parse_selector(value, path)


def dotted(selector: Selector) -> str:
    """How a selector reads in messages: ``node.var.path``."""
    return ".".join(selector)
