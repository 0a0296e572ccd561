"""Variable selectors in node configurations: ``[node_id, name, *path]`` lists (VAR-REF-SYNTAX).

They are read with :func:`treadle_sdk.dsl_fields.parse_selector` when a node is prepared and kept as
tuples, so runs pass them to the runtime as they are.
"""

from __future__ import annotations

from typing import Any

from treadle_sdk.templates import Selector

__all__ = ["dotted", "is_selector"]


def is_selector(value: Any) -> bool:
    """True for a list of at least two non-empty strings."""
    return isinstance(value, list | tuple) and len(value) >= 2 and all(isinstance(part, str) and part for part in value)


def dotted(selector: Selector) -> str:
    """How a selector reads in messages: ``node.var.path``."""
    return ".".join(selector)
