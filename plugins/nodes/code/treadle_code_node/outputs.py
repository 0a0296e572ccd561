"""The declared outputs of a code node and the checks on what ``main()`` returns (NODE-CODE).

Every declared output must be present with its declared type (``null`` is allowed, as in Dify),
and nothing undeclared may be returned. Strings are at most 80,000 characters with null bytes
removed; numbers lie within -999999999..999999999 and floats are rounded to 10 decimal places;
objects and arrays nest at most 5 levels, the output value itself being level 1. Values inside
objects and arrays are checked the same way. As in Dify, a boolean returned for a ``number``
output becomes 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.nodes import NodeConfigError

from .errors import DepthLimitError, OutputValidationError
from .settings import OutputLimits

__all__ = ["OUTPUT_TYPES", "OutputChecker", "OutputSpec", "parse_outputs"]

OUTPUT_TYPES = (
    "string",
    "number",
    "boolean",
    "object",
    "array[string]",
    "array[number]",
    "array[object]",
    "array[boolean]",
)


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One declared output: its type and, for an object, the declared fields (None: any)."""

    type: str
    children: Mapping[str, OutputSpec] | None = None


def parse_outputs(raw: Any, path: str = "outputs") -> dict[str, OutputSpec]:
    """The DSL's ``outputs`` (``{name: {type, children}}``) checked; raises
    :class:`NodeConfigError` naming the field that is wrong."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise NodeConfigError("must map each output's name to {type, children}", path)
    specs: dict[str, OutputSpec] = {}
    for name, item in raw.items():
        where = f"{path}.{name}"
        if not isinstance(item, Mapping):
            raise NodeConfigError("must be an object with a type", where)
        kind = item.get("type")
        if kind not in OUTPUT_TYPES:
            raise NodeConfigError(f"unknown output type {kind!r}; one of {', '.join(OUTPUT_TYPES)}", f"{where}.type")
        children = item.get("children")
        specs[str(name)] = OutputSpec(
            kind, parse_outputs(children, f"{where}.children") if kind == "object" and children else None
        )
    return specs


def _kind(value: Any) -> str:
    """A value's JSON type name, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class OutputChecker:
    """Checks and normalises ``main()``'s result against the declared outputs."""

    def __init__(self, limits: OutputLimits) -> None:
        self.limits = limits

    def check(self, result: Mapping[str, Any], schema: Mapping[str, OutputSpec]) -> dict[str, Any]:
        """The outputs, normalised; raises :class:`OutputValidationError` (or its
        :class:`DepthLimitError`) naming the first output that fails."""
        return self._fields(result, schema, "", 0)

    def _fields(
        self, value: Mapping[str, Any], schema: Mapping[str, OutputSpec], prefix: str, level: int
    ) -> dict[str, Any]:
        checked: dict[str, Any] = {}
        for name, spec in schema.items():
            where = _join(prefix, name)
            if name not in value:
                raise OutputValidationError(f"output {where!r} is missing from what main() returned", output=where)
            checked[name] = self._typed(value[name], spec, where, level + 1)
        for name in value:
            if name not in schema:
                where = _join(prefix, str(name))
                declared = ", ".join(schema) or "none"
                raise OutputValidationError(
                    f"main() returned {where!r}, which is not a declared output (declared: {declared})", output=where
                )
        return checked

    def _typed(self, value: Any, spec: OutputSpec, where: str, level: int) -> Any:
        if value is None:
            return None
        kind = spec.type
        if kind == "string":
            return self._string(value, where)
        if kind == "number":
            return self._number(value, where)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise self._wrong(value, "a boolean", where)
            return value
        if kind == "object":
            if not isinstance(value, Mapping):
                raise self._wrong(value, "an object", where)
            self._depth(level, where)
            if spec.children is not None:
                return self._fields(value, spec.children, where, level)
            return self._any(value, where, level)
        if not isinstance(value, list):
            raise self._wrong(value, f"an {kind}", where)
        self._depth(level, where)
        element = kind[len("array[") : -1]
        self._length(value, element, where)
        items: list[Any] = []
        for index, item in enumerate(value):
            at = f"{where}[{index}]"
            if element == "string":
                items.append(self._string(item, at))
            elif element == "number":
                items.append(self._number(item, at))
            elif item is None:
                items.append(None)
            elif element == "boolean":
                if not isinstance(item, bool):
                    raise self._wrong(item, "a boolean", at)
                items.append(item)
            else:
                if not isinstance(item, Mapping):
                    raise self._wrong(item, "an object", at)
                items.append(self._any(item, at, level + 1))
        return items

    def _any(self, value: Any, where: str, level: int) -> Any:
        """A value inside an object or array with no declared type: checked by what it is."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return self._number(value, where)
        if isinstance(value, str):
            return self._string(value, where)
        if isinstance(value, Mapping):
            self._depth(level, where)
            return {key: self._any(item, _join(where, str(key)), level + 1) for key, item in value.items()}
        if isinstance(value, list):
            self._depth(level, where)
            return [self._any(item, f"{where}[{index}]", level + 1) for index, item in enumerate(value)]
        raise OutputValidationError(f"output {where!r} is a {type(value).__name__}, not a JSON value", output=where)

    def _string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self._wrong(value, "a string", where)
        limit = self.limits.max_string_length
        if len(value) > limit:
            raise OutputValidationError(
                f"output {where!r} is {len(value):,} characters long; at most {limit:,} are allowed", output=where
            )
        return value.replace("\x00", "")

    def _number(self, value: Any, where: str) -> int | float:
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, int | float):
            raise self._wrong(value, "a number", where)
        if isinstance(value, float) and not math.isfinite(value):
            raise OutputValidationError(f"output {where!r} is {value}, not a finite number", output=where)
        low, high = self.limits.min_number, self.limits.max_number
        if not low <= value <= high:
            raise OutputValidationError(
                f"output {where!r} is {value}, outside the allowed range {low}..{high}", output=where
            )
        if isinstance(value, float):
            return round(value, self.limits.max_precision)
        return value

    def _depth(self, level: int, where: str) -> None:
        if level > self.limits.max_depth:
            raise DepthLimitError(
                f"output {where!r} nests objects and arrays more than {self.limits.max_depth} levels deep",
                output=where,
            )

    def _length(self, value: list[Any], element: str, where: str) -> None:
        limit = {
            "string": self.limits.max_string_array_length,
            "number": self.limits.max_number_array_length,
            "object": self.limits.max_object_array_length,
        }.get(element)
        if limit is not None and len(value) > limit:
            raise OutputValidationError(
                f"output {where!r} has {len(value)} elements; at most {limit} are allowed", output=where
            )

    @staticmethod
    def _wrong(value: Any, expected: str, where: str) -> OutputValidationError:
        return OutputValidationError(f"output {where!r} must be {expected}, not {_kind(value)}", output=where)
