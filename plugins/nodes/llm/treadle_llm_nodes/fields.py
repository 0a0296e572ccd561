"""Reading fields of a node's DSL ``data``: each reader checks one field's shape and, when it is
wrong, raises :class:`NodeConfigError` with the field's path inside ``data`` (STYLE habit 5).

``null`` counts as missing, as Dify's exports write it for fields the editor never touched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from treadle_sdk.nodes import NodeConfigError
from treadle_sdk.templates import Selector

__all__ = ["choice", "flag", "items", "mapping", "optional_selector", "selector", "text"]


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    """An object; ``None`` reads as an empty one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise NodeConfigError(f"expected an object, not {type(value).__name__}", path)
    return value


def items(value: Any, path: str) -> list[Any]:
    """A list; ``None`` reads as an empty one."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise NodeConfigError(f"expected a list, not {type(value).__name__}", path)
    return list(value)


def text(value: Any, path: str, default: str = "") -> str:
    """A string; numbers are taken in their usual spelling."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise NodeConfigError(f"expected text, not {type(value).__name__}", path)
    return str(value)


def flag(value: Any, path: str, default: bool = False) -> bool:
    """A boolean (``"true"``/``"false"`` are accepted too)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise NodeConfigError(f"expected true or false, not {value!r}", path)


def choice(value: Any, path: str, choices: Collection[str], default: str) -> str:
    """One of ``choices``."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(sorted(choices))
        raise NodeConfigError(f"must be one of {listed}, not {value!r}", path)
    return value


def selector(value: Any, path: str) -> Selector:
    """A variable selector ``[node_id, variable, *path]``."""
    if isinstance(value, list | tuple) and len(value) >= 2 and all(isinstance(p, str | int) for p in value):
        parts = tuple(str(part) for part in value)
        if all(parts):
            return parts
    raise NodeConfigError(f"expected a variable selector such as [node_id, variable], not {value!r}", path)


def optional_selector(value: Any, path: str) -> Selector | None:
    """Like :func:`selector`, but ``None`` and an empty list mean "no variable"."""
    if value is None or (isinstance(value, list | tuple) and not value):
        return None
    return selector(value, path)
