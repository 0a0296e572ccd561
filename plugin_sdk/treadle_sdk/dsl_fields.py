"""Reading fields of a node's DSL ``data``: each reader checks one field's shape and, when it is
wrong, raises :class:`~treadle_sdk.nodes.NodeConfigError` with the field's path inside ``data``
(STYLE habit 5). Node types call them from ``prepare()``.

Missing optional fields take the default the caller gives; ``null`` counts as missing, as Dify's
exports write it for fields the editor never touched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .nodes import NodeConfigError
from .templates import Selector

__all__ = ["choice", "flag", "integer", "items", "mapping", "parse_optional_selector", "parse_selector", "text"]


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


def integer(value: Any, path: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number within ``[minimum, maximum]``; numeric strings and whole floats are accepted."""
    if value is None or value == "":
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value)
    if number is None:
        raise NodeConfigError(f"expected a whole number, not {value!r}", path)
    if minimum is not None and number < minimum:
        raise NodeConfigError(f"must be at least {minimum}, not {number}", path)
    if maximum is not None and number > maximum:
        raise NodeConfigError(f"must be at most {maximum}, not {number}", path)
    return number


def choice(value: Any, path: str, choices: Collection[str], default: str) -> str:
    """One of ``choices``; ``None`` and ``""`` read as ``default``."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(sorted(choices))
        raise NodeConfigError(f"must be one of {listed}, not {value!r}", path)
    return value


def parse_selector(value: Any, path: str) -> Selector:
    """A variable selector ``[node_id, variable, *path]`` (VAR-REF-SYNTAX), kept as a tuple."""
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
