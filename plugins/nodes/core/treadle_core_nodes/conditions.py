"""Conditions, as If/Else cases, Loop break conditions and List Operator filters write them
(NODE-IFELSE, NODE-LOOP, NODE-LIST-OPERATOR).

A condition compares a variable with a value using one of Dify's operators, spelled as Dify's DSL
spells them::

    contains  not contains  start with  end with  is  is not  empty  not empty  in  not in  all of
    =  ≠  >  <  ≥  ≤  null  not null  exists  not exists

How each operator reads each type (Dify's rules, with the gaps filled the forgiving way):

- text: ``contains``/``start with``/``end with`` test substrings; ``is`` is equality; ``in`` tests
  membership of a list (or a substring of a text value).
- numbers: ``= ≠ > < ≥ ≤``; the value may be a number, a numeric string or a ``{{#ref#}}``
  rendered at run time. A variable holding a numeric string compares as that number.
- booleans: ``is``/``is not``/``=``/``≠`` with the value read as true/false (``"true"``, ``"1"`` ...).
- arrays: ``contains`` tests membership (``"1"`` matches the element ``1``); ``all of`` needs every
  listed value; ``empty`` is the empty array.
- files: a single file variable is tested on one attribute (``key``, or a selector ending in the
  attribute); an array of files with ``contains``/``not contains``/``all of`` is tested with the
  ``sub_variable_condition`` on file attributes (type, extension, mime_type, size, name,
  transfer_method, url). ``contains`` follows Dify: each sub-condition must hold for some file
  (every file, for a negative operator); ``not contains`` is its negation; ``all of`` needs every
  file to meet the sub-conditions.
- a variable that does not exist reads as ``null``: ``empty``, ``null`` and ``not exists`` hold,
  other operators do not.

An operator applied to a type it cannot read (``>`` on text, ``start with`` on a number) fails the
node with :class:`ConditionError` saying which variable and operator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import choice, items, mapping, parse_selector, text
from treadle_sdk.nodes import NodeConfigError, NodeRunError, NodeRuntime, VariableNotFound
from treadle_sdk.templates import Selector, parse_template, render_parts, to_text

from .files import FILE_ATTRIBUTES, file_attribute, is_file, normalize_extension
from .selectors import dotted

__all__ = [
    "OPERATORS",
    "Condition",
    "ConditionError",
    "ConditionGroup",
    "Expected",
    "ItemCondition",
    "Lookup",
    "compare",
    "parse_condition",
    "parse_group",
    "parse_item_condition",
    "parse_logical_operator",
    "parse_operator",
    "runtime_lookup",
]

#: Reads a variable; a variable that does not exist reads as ``None``.
Lookup = Callable[[Selector], Any]

#: Every comparison operator, as Dify's DSL spells it.
OPERATORS = frozenset(
    {
        "contains",
        "not contains",
        "start with",
        "end with",
        "is",
        "is not",
        "empty",
        "not empty",
        "in",
        "not in",
        "all of",
        "=",
        "≠",
        ">",
        "<",
        "≥",
        "≤",
        "null",
        "not null",
        "exists",
        "not exists",
    }
)

#: Other spellings seen in hand-written DSL, read as Dify's.
_ALIASES = {
    "starts with": "start with",
    "ends with": "end with",
    "is empty": "empty",
    "is not empty": "not empty",
    "==": "=",
    "!=": "≠",
    ">=": "≥",
    "<=": "≤",
    "is null": "null",
    "is not null": "not null",
}

#: Operators that take no comparison value.
_UNARY = frozenset({"empty", "not empty", "null", "not null", "exists", "not exists"})
#: Operators that compare numbers.
_NUMERIC = frozenset({"=", "≠", ">", "<", "≥", "≤"})
#: Operators that test an array of files through sub-conditions.
_FILE_ARRAY_OPERATORS = frozenset({"contains", "not contains", "all of"})


class ConditionError(NodeRunError):
    """A condition cannot be evaluated: the operator does not apply to the variable's value."""

    error_type = "ConditionError"


# ---------------------------------------------------------------------------------------------
# Comparing one value
# ---------------------------------------------------------------------------------------------


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return int(stripped)
        except ValueError:
            pass
        try:
            return float(stripped)
        except ValueError:
            raise ConditionError(f"{what} {value!r} is not a number") from None
    raise ConditionError(f"{what} must be a number, not {type(value).__name__}")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no", ""}:
            return False
    raise ConditionError(f"{value!r} is not true or false")


def _member(needle: Any, values: Sequence[Any]) -> bool:
    """``needle`` is one of ``values``; text matches an element of another type written the same way."""
    if needle in values:
        return True
    if isinstance(needle, str):
        return any(not isinstance(value, str) and to_text(value) == needle for value in values)
    written = to_text(needle)
    return any(isinstance(value, str) and value == written for value in values)


def _contains(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if isinstance(actual, str):
        return to_text(expected) in actual
    if isinstance(actual, list | tuple):
        return _member(expected, actual)
    raise ConditionError(f"'contains' needs text or an array, not {type(actual).__name__}")


def _not_contains(actual: Any, expected: Any) -> bool:
    return not actual or not _contains(actual, expected)


def _start_with(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if not isinstance(actual, str):
        raise ConditionError(f"'start with' needs text, not {type(actual).__name__}")
    return actual.startswith(to_text(expected))


def _end_with(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if not isinstance(actual, str):
        raise ConditionError(f"'end with' needs text, not {type(actual).__name__}")
    return actual.endswith(to_text(expected))


def _is(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, bool):
        return actual is _boolean(expected)
    if isinstance(actual, str):
        return actual == to_text(expected)
    if isinstance(actual, int | float):
        return actual == _number(expected, "the value")
    raise ConditionError(f"'is' needs text, a number or a boolean, not {type(actual).__name__}")


def _is_not(actual: Any, expected: Any) -> bool:
    return actual is not None and not _is(actual, expected)


def _numeric(operator: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    equality = operator in {"=", "≠"}

    def compare_numbers(actual: Any, expected: Any) -> bool:
        # Exact type checks first: this runs on every branch decision of a numeric condition.
        kind = type(actual)
        if kind is not int and kind is not float:
            if actual is None:
                return False
            if kind is bool:
                if equality:
                    return test(actual, _boolean(expected))
            elif not isinstance(actual, str):
                raise ConditionError(f"'{operator}' needs a number, not {kind.__name__}")
            actual = _number(actual, "the variable")
        kind = type(expected)
        if kind is not int and kind is not float:
            expected = _number(expected, "the value")
        return test(actual, expected)

    return compare_numbers


def _in(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if isinstance(expected, list | tuple):
        return _member(actual, expected)
    if isinstance(expected, str) and isinstance(actual, str):
        return actual in expected
    raise ConditionError(f"'in' needs a list of values, not {type(expected).__name__}")


def _not_in(actual: Any, expected: Any) -> bool:
    return not actual or not _in(actual, expected)


def _all_of(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    wanted = expected if isinstance(expected, list | tuple) else [expected]
    if isinstance(actual, str):
        return all(to_text(value) in actual for value in wanted)
    if isinstance(actual, list | tuple):
        return all(_member(value, actual) for value in wanted)
    raise ConditionError(f"'all of' needs text or an array, not {type(actual).__name__}")


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": _contains,
    "not contains": _not_contains,
    "start with": _start_with,
    "end with": _end_with,
    "is": _is,
    "is not": _is_not,
    "empty": lambda actual, _: not actual,
    "not empty": lambda actual, _: bool(actual),
    "in": _in,
    "not in": _not_in,
    "all of": _all_of,
    "=": _numeric("=", lambda a, b: a == b),
    "≠": _numeric("≠", lambda a, b: a != b),
    ">": _numeric(">", lambda a, b: a > b),
    "<": _numeric("<", lambda a, b: a < b),
    "≥": _numeric("≥", lambda a, b: a >= b),
    "≤": _numeric("≤", lambda a, b: a <= b),
    "null": lambda actual, _: actual is None,
    "not null": lambda actual, _: actual is not None,
    "exists": lambda actual, _: actual is not None,
    "not exists": lambda actual, _: actual is None,
}


def compare(operator: str, actual: Any, expected: Any) -> bool:
    """Whether ``actual <operator> expected`` holds; ``operator`` is one of :data:`OPERATORS`."""
    return _COMPARATORS[operator](actual, expected)


# ---------------------------------------------------------------------------------------------
# Parsed conditions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """A condition's comparison value: a constant, or text whose ``{{#refs#}}`` render at run time."""

    constant: Any
    parts: list[str | Selector] | None = None

    @classmethod
    def of(cls, value: Any) -> Expected:
        if isinstance(value, str) and "{{#" in value:
            parts = parse_template(value)
            if any(not isinstance(part, str) for part in parts):
                return cls(value, parts)
        return cls(value)

    def resolve(self, lookup: Lookup) -> Any:
        if self.parts is None:
            return self.constant
        return render_parts(self.parts, lookup)

    def reads(self) -> list[Selector]:
        """The variables the value refers to."""
        return [part for part in self.parts or () if not isinstance(part, str)]


def _with_extension(expected: Any) -> Any:
    if isinstance(expected, list | tuple):
        return [normalize_extension(value) for value in expected]
    return normalize_extension(expected)


@dataclass(frozen=True, slots=True)
class ItemCondition:
    """A condition on each element of an array: on the element itself (``key`` is ``None``) or on
    one attribute of a file element. Used by array-of-files sub-conditions and List Operator filters."""

    key: str | None
    operator: str
    expected: Expected

    def resolve(self, lookup: Lookup) -> Any:
        """The comparison value for this run."""
        expected = self.expected.resolve(lookup)
        return _with_extension(expected) if self.key == "extension" else expected

    def test(self, item: Any, expected: Any) -> bool:
        """Whether the condition holds for ``item``, given the value :meth:`resolve` returned."""
        if self.key is not None and is_file(item):
            item = file_attribute(item, self.key)
        return _COMPARATORS[self.operator](item, expected)


@dataclass(frozen=True, slots=True)
class FileConditionGroup:
    """The conditions on file attributes that test an array of files (``sub_variable_condition``)."""

    conditions: tuple[ItemCondition, ...]
    #: ``or`` (one condition must hold) rather than ``and`` (all must).
    match_any: bool

    def _file_holds(self, file: Any, values: list[Any]) -> bool:
        results = (condition.test(file, value) for condition, value in zip(self.conditions, values, strict=True))
        return any(results) if self.match_any else all(results)

    def holds(self, operator: str, files: Sequence[Any], lookup: Lookup) -> bool:
        values = [condition.resolve(lookup) for condition in self.conditions]
        if operator == "all of":
            return bool(files) and all(self._file_holds(file, values) for file in files)
        if not files:
            return operator == "not contains"
        results = []
        for condition, value in zip(self.conditions, values, strict=True):
            per_file = (condition.test(file, value) for file in files)
            results.append(all(per_file) if "not" in condition.operator else any(per_file))
        found = any(results) if self.match_any else all(results)
        return found if operator == "contains" else not found


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition on one variable."""

    selector: Selector
    operator: str
    expected: Expected
    #: The file attribute compared when the variable at ``owner`` is a file: the condition's ``key``
    #: (``owner`` is then the selector itself), or the selector's last part (``owner`` is the rest).
    attribute: str | None = None
    owner: Selector | None = None
    files: FileConditionGroup | None = None

    def reads(self) -> list[Selector]:
        """The variables the condition may read."""
        found = [self.selector]
        if self.owner is not None and self.owner != self.selector:
            found.append(self.owner)
        found.extend(self.expected.reads())
        for condition in self.files.conditions if self.files is not None else ():
            found.extend(condition.expected.reads())
        return found

    def holds(self, lookup: Lookup) -> bool:
        """Whether the condition holds, reading variables with ``lookup``."""
        operator = self.operator
        of_file = False
        if self.owner is not None:
            owner = lookup(self.owner)
            if is_file(owner):
                actual = file_attribute(owner, self.attribute or "")
                of_file = True
            elif self.owner == self.selector:
                actual = owner
            else:
                actual = lookup(self.selector)
        else:
            actual = lookup(self.selector)
        if operator in _FILE_ARRAY_OPERATORS and isinstance(actual, list) and actual and is_file(actual[0]):
            if self.files is None:
                raise ConditionError(
                    f"{dotted(self.selector)} is an array of files: '{operator}' needs conditions on file "
                    "attributes (sub_variable_condition)"
                )
            return self.files.holds(operator, actual, lookup)
        if operator in _UNARY:
            return _COMPARATORS[operator](actual, None)
        expected = self.expected.resolve(lookup)
        if of_file and self.attribute == "extension":
            expected = _with_extension(expected)
        try:
            return _COMPARATORS[operator](actual, expected)
        except ConditionError as exc:
            raise ConditionError(f"condition on {dotted(self.selector)}: {exc.message}") from None


@dataclass(frozen=True, slots=True)
class ConditionGroup:
    """Conditions joined by ``and`` (all must hold) or ``or`` (one must); evaluated in order and
    stopped as soon as the answer is known."""

    conditions: tuple[Condition, ...]
    #: ``or`` (one condition must hold) rather than ``and`` (all must).
    match_any: bool = False

    def reads(self) -> list[Selector]:
        """The variables the conditions may read."""
        return [selector for condition in self.conditions for selector in condition.reads()]

    def holds(self, lookup: Lookup) -> bool:
        if self.match_any:
            for condition in self.conditions:
                if condition.holds(lookup):
                    return True
            return False
        for condition in self.conditions:
            if not condition.holds(lookup):
                return False
        return True


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def parse_operator(value: Any, path: str) -> str:
    """A comparison operator in Dify's spelling (or a known alias of it)."""
    if isinstance(value, str):
        operator = _ALIASES.get(value, value)
        if operator in OPERATORS:
            return operator
    raise NodeConfigError(
        f"unknown comparison operator {value!r}; expected one of {', '.join(sorted(OPERATORS))}", path
    )


def parse_logical_operator(value: Any, path: str) -> bool:
    """``and`` or ``or``; returns True for ``or``."""
    return choice(value, path, {"and", "or"}, "and") == "or"


def parse_item_condition(data: Any, path: str, *, key_required: bool = False) -> ItemCondition:
    """A condition on array elements: ``{key, comparison_operator, value}``."""
    data = mapping(data, path)
    key = text(data.get("key"), f"{path}.key") or None
    if key is not None and key not in FILE_ATTRIBUTES:
        raise NodeConfigError(
            f"unknown file attribute {key!r}; expected one of {', '.join(sorted(FILE_ATTRIBUTES))}", f"{path}.key"
        )
    if key is None and key_required:
        raise NodeConfigError("a condition on files needs the attribute it tests", f"{path}.key")
    operator = parse_operator(data.get("comparison_operator"), f"{path}.comparison_operator")
    return ItemCondition(key, operator, Expected.of(data.get("value")))


def _parse_files(data: Any, path: str) -> FileConditionGroup | None:
    data = mapping(data, path)
    conditions = items(data.get("conditions"), f"{path}.conditions")
    if not conditions:
        return None
    return FileConditionGroup(
        tuple(
            parse_item_condition(item, f"{path}.conditions[{i}]", key_required=True)
            for i, item in enumerate(conditions)
        ),
        parse_logical_operator(data.get("logical_operator"), f"{path}.logical_operator"),
    )


def parse_condition(data: Any, path: str) -> Condition:
    """One condition: ``{variable_selector, comparison_operator, value, key?, sub_variable_condition?}``."""
    data = mapping(data, path)
    selector = parse_selector(data.get("variable_selector"), f"{path}.variable_selector")
    operator = parse_operator(data.get("comparison_operator"), f"{path}.comparison_operator")
    key = text(data.get("key"), f"{path}.key") or None
    if key is not None and key not in FILE_ATTRIBUTES:
        raise NodeConfigError(f"unknown file attribute {key!r}", f"{path}.key")
    attribute, owner = key, selector if key is not None else None
    if attribute is None and len(selector) > 2 and selector[-1] in FILE_ATTRIBUTES:
        attribute, owner = selector[-1], selector[:-1]
    value = data.get("value")
    if operator in _NUMERIC and isinstance(value, str):
        # Parsed once here rather than on every run; a value that is no number fails at run time,
        # where the error can say what the variable held.
        try:
            value = _number(value, "the value")
        except ConditionError:
            pass
    return Condition(
        selector=selector,
        operator=operator,
        expected=Expected.of(value),
        attribute=attribute,
        owner=owner,
        files=_parse_files(data.get("sub_variable_condition"), f"{path}.sub_variable_condition"),
    )


def parse_group(conditions: Any, logical_operator: Any, path: str, operator_path: str) -> ConditionGroup:
    """A list of conditions and the ``and``/``or`` joining them."""
    listed = items(conditions, path)
    return ConditionGroup(
        tuple(parse_condition(item, f"{path}[{i}]") for i, item in enumerate(listed)),
        parse_logical_operator(logical_operator, operator_path),
    )


def runtime_lookup(rt: NodeRuntime) -> Lookup:
    """A :data:`Lookup` over a node's runtime: variables that do not exist read as ``None``."""
    get = rt.get

    def lookup(selector: Selector) -> Any:
        try:
            return get(selector)
        except VariableNotFound:
            return None

    return lookup
