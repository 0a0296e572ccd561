"""The metadata filter language of vector stores: one small language, the same in every store.

A filter is a dict of conditions on record metadata, all of which must hold (AND)::

    {"dataset_id": "d1"}                                   # equality
    {"document_id": {"in": ["a", "b"]}}                    # one of
    {"document_id": {"not_in": ["c"]}, "lang": "en"}       # none of, and equality

Values are strings, integers or booleans, compared by type and value: ``"1"``, ``1`` and ``true`` are
three different values. A record lacking the field matches no ``eq``/``in`` condition and every
``not_in`` condition. ``{"in": []}`` matches nothing, ``{"not_in": []}`` everything. Conditions
compare against scalar metadata values; list or object values of a field are not looked into.

Stores call :func:`parse_vector_filter` and translate the conditions it returns (faiss into an id
selector, pgvector into jsonb conditions, Qdrant into a ``Filter``). Anything else is refused with
:class:`~treadle_sdk.errors.PluginInvalidArgument` naming the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import PluginInvalidArgument

__all__ = ["FIELD_PATTERN", "FilterCondition", "FilterValue", "parse_vector_filter"]

FilterValue = str | int | bool
FilterOperator = Literal["eq", "in", "not_in"]

#: Metadata field names a filter may test. Stores put them in payload paths (Qdrant's
#: ``metadata.<field>``), so dots and other punctuation are kept out.
FIELD_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,127}$")

_OPERATORS: tuple[FilterOperator, ...] = ("in", "not_in")


@dataclass(frozen=True, slots=True)
class FilterCondition:
    """One condition of a filter: ``field`` equals ``values[0]`` (``eq``), is one of ``values``
    (``in``), or is none of them (``not_in``)."""

    field: str
    op: FilterOperator
    values: tuple[FilterValue, ...]

    @property
    def matches_nothing(self) -> bool:
        return self.op == "in" and not self.values


def _invalid(field: str, message: str) -> PluginInvalidArgument:
    return PluginInvalidArgument(f"filter field {field!r}: {message}", details={"field": f"filter.{field}"})


def _value(field: str, value: Any) -> FilterValue:
    # bool is an int subclass: accepted explicitly, and kept distinct from 1 by the stores.
    if isinstance(value, str | bool | int):
        return value
    shown = type(value).__name__ if value is not None else "null"
    raise _invalid(field, f"values are strings, integers or booleans, not {shown}")


def _condition(field: str, spec: Any) -> FilterCondition:
    if not isinstance(field, str) or not FIELD_PATTERN.match(field):
        raise PluginInvalidArgument(
            f"filter field {field!r} is not a metadata field name (letters, digits, '_' and '-')",
            details={"field": f"filter.{field}"},
        )
    if not isinstance(spec, Mapping):
        return FilterCondition(field, "eq", (_value(field, spec),))
    if len(spec) != 1 or next(iter(spec)) not in _OPERATORS:
        raise _invalid(field, f'takes a value, {{"in": [...]}} or {{"not_in": [...]}}, not {dict(spec)!r}')
    op, values = next(iter(spec.items()))
    if not isinstance(values, list | tuple):
        raise _invalid(field, f"{op!r} takes a list of values, not {type(values).__name__}")
    # Deduplicated by type and value: 1 and True are equal in Python but different values here.
    unique = {(type(v), v): v for v in (_value(field, value) for value in values)}
    return FilterCondition(field, op, tuple(unique.values()))


def parse_vector_filter(filter: Mapping[str, Any] | None) -> tuple[FilterCondition, ...]:
    """The conditions of ``filter`` (empty for None or ``{}``: no filtering), checked against the
    language above; raises :class:`PluginInvalidArgument` for anything else."""
    if filter is None:
        return ()
    if not isinstance(filter, Mapping):
        raise PluginInvalidArgument(
            f"a filter is an object of metadata conditions, not {type(filter).__name__}", details={"field": "filter"}
        )
    return tuple(_condition(field, spec) for field, spec in filter.items())
