"""The Variable Assigner node: writes conversation variables, and loop variables inside a loop
(NODE-VAR-ASSIGNER, VAR-IMMUTABILITY).

Version 2 (``version: "2"``) lists ``items: [{variable_selector, input_type, operation, value}]``:
``input_type`` ``variable`` takes the value from the selector in ``value``, ``constant`` takes
``value`` itself. Operations, by the type of the variable written:

==========  ===========================================================================
string      ``over-write``, ``clear`` (to ``""``), ``set``
number      ``over-write``, ``clear`` (to ``0``), ``set``, ``+=``, ``-=``, ``*=``, ``/=``
boolean     ``over-write``, ``clear`` (to ``false``), ``set``
object      ``over-write``, ``clear`` (to ``{}``), ``set``
array       ``over-write``, ``clear`` (to ``[]``), ``append`` (one element), ``extend`` (an array),
            ``remove-first``, ``remove-last`` (an empty array stays empty)
file        ``over-write``, ``clear`` (to ``null``)
==========  ===========================================================================

A value must have the variable's type (and an array's elements the type of its elements); a
numeric string is taken as a number for a number variable. Items run in order, each seeing what the
ones before it wrote. Version 1 (``assigned_variable_selector``, ``input_variable_selector``,
``write_mode`` over-write/append/clear) is read as one version 2 item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import choice, items, mapping, parse_selector
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeResult, NodeRunError, NodeRuntime, PreparedNode, VariableNotFound
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

from .files import is_file
from .selectors import dotted, is_selector

__all__ = [
    "OPERATIONS",
    "AssignerNode",
    "AssignerNodeType",
    "Assignment",
    "AssignmentError",
    "apply_operation",
    "parse_assignments",
]

#: Every operation, as Dify's DSL spells it.
OPERATIONS = frozenset(
    {"over-write", "clear", "set", "+=", "-=", "*=", "/=", "append", "extend", "remove-first", "remove-last"}
)
_NO_VALUE = frozenset({"clear", "remove-first", "remove-last"})
_ARITHMETIC = frozenset({"+=", "-=", "*=", "/="})
_ARRAY_ONLY = frozenset({"append", "extend", "remove-first", "remove-last"})

#: The operations each type of variable allows (NODE-VAR-ASSIGNER); ``null`` is a variable whose
#: value (and so type) is not known yet.
_ALLOWED: dict[str, frozenset[str]] = {
    "string": frozenset({"over-write", "clear", "set"}),
    "number": frozenset({"over-write", "clear", "set", *_ARITHMETIC}),
    "boolean": frozenset({"over-write", "clear", "set"}),
    "object": frozenset({"over-write", "clear", "set"}),
    "array": frozenset({"over-write", "clear", *_ARRAY_ONLY}),
    "file": frozenset({"over-write", "clear"}),
    "null": frozenset({"over-write", "clear", "set", "append", "extend"}),
}


class AssignmentError(NodeRunError):
    """An assignment cannot be made: unknown variable, operation not allowed for its type, or a
    value of the wrong type."""

    error_type = "AssignmentError"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if is_file(value):
        return "file"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _a(kind: str) -> str:
    return ("an " if kind[:1] in {"a", "e", "i", "o", "u"} else "a ") + kind


def _as_number(value: Any, where: str) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        for convert in (int, float):
            try:
                return convert(stripped)
            except ValueError:
                continue
    raise AssignmentError(f"{where}: expected a number, not {_a(_kind(value))} {value!r}")


def _element_kind(array: Any) -> str | None:
    """The type of an array's elements (of its first element that is not null), if it has any."""
    for element in array if isinstance(array, list | tuple) else ():
        if element is not None:
            return _kind(element)
    return None


def _check_elements(elements: Any, kind: str | None, where: str) -> None:
    if kind is None:
        return
    for element in elements:
        if element is not None and _kind(element) != kind:
            raise AssignmentError(f"{where}: the array holds {kind} elements, not {_a(_kind(element))} {element!r}")


def _same_type(current: Any, value: Any, where: str) -> Any:
    """``value`` checked (and, for numbers, converted) to the type of ``current``."""
    kind = _kind(current)
    if kind == "null":
        return value
    if kind == "number":
        return _as_number(value, where)
    if _kind(value) != kind:
        raise AssignmentError(f"{where}: the variable holds {_a(kind)}, not {_a(_kind(value))} {value!r}")
    if kind == "array":
        _check_elements(value, _element_kind(current), where)
        return list(value)
    return value


def apply_operation(operation: str, current: Any, value: Any, where: str) -> Any:
    """The variable's new value after ``operation`` with ``value``; ``where`` names the variable in
    errors."""
    kind = _kind(current)
    allowed = _ALLOWED.get(kind, frozenset({"over-write", "clear"}))
    if operation not in allowed:
        raise AssignmentError(f"{where}: '{operation}' cannot be applied to {_a(kind)} variable")
    if operation == "clear":
        return {"string": "", "number": 0, "boolean": False, "object": {}, "array": []}.get(kind)
    if operation in {"over-write", "set"}:
        if value is None:
            raise AssignmentError(f"{where}: there is no value to write")
        return _same_type(current, value, where)
    if operation in _ARITHMETIC:
        operand = _as_number(value, where)
        if operation == "+=":
            return current + operand
        if operation == "-=":
            return current - operand
        if operation == "*=":
            return current * operand
        if operand == 0:
            raise AssignmentError(f"{where}: cannot divide by zero")
        return current / operand
    array = list(current or ())
    if operation == "append":
        _check_elements((value,), _element_kind(array), where)
        return [*array, value]
    if operation == "extend":
        if not isinstance(value, list | tuple):
            raise AssignmentError(f"{where}: 'extend' needs an array, not {_a(_kind(value))}")
        _check_elements(value, _element_kind(array), where)
        return [*array, *value]
    if operation == "remove-first":
        return array[1:]
    return array[:-1]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One write: the variable, the operation, and its value (from ``source`` or ``constant``)."""

    target: Selector
    operation: str
    source: Selector | None = None
    constant: Any = None


def _parse_item(data: Any, path: str) -> Assignment:
    data = mapping(data, path)
    target = parse_selector(data.get("variable_selector"), f"{path}.variable_selector")
    operation = choice(data.get("operation"), f"{path}.operation", OPERATIONS, "over-write")
    if operation in _NO_VALUE:
        return Assignment(target, operation)
    value = data.get("value")
    input_type = choice(
        data.get("input_type"),
        f"{path}.input_type",
        {"variable", "constant"},
        "variable" if is_selector(value) else "constant",
    )
    if input_type == "variable":
        return Assignment(target, operation, source=parse_selector(value, f"{path}.value"))
    return Assignment(target, operation, constant=value)


def parse_assignments(config: Mapping[str, Any]) -> tuple[Assignment, ...]:
    """The writes of an assigner's DSL ``data``, version 2 or version 1."""
    if config.get("items") is None and config.get("assigned_variable_selector") is not None:
        target = parse_selector(config.get("assigned_variable_selector"), "assigned_variable_selector")
        mode = choice(config.get("write_mode"), "write_mode", {"over-write", "append", "clear"}, "over-write")
        if mode == "clear":
            return (Assignment(target, "clear"),)
        return (
            Assignment(
                target, mode, source=parse_selector(config.get("input_variable_selector"), "input_variable_selector")
            ),
        )
    return tuple(_parse_item(item, f"items[{i}]") for i, item in enumerate(items(config.get("items"), "items")))


class AssignerNode(PreparedNode):
    """A prepared Variable Assigner node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.assignments = parse_assignments(config)

    def selectors(self) -> list[Selector]:
        found: list[Selector] = []
        for assignment in self.assignments:
            found.append(assignment.target)
            if assignment.source is not None:
                found.append(assignment.source)
        return list(dict.fromkeys(found))

    def run(self, rt: NodeRuntime) -> NodeResult:
        written: dict[Selector, Any] = {}
        updated = []

        def read(selector: Selector, role: str) -> Any:
            if selector in written:
                return written[selector]
            try:
                return rt.get(selector)
            except VariableNotFound:
                raise AssignmentError(f"{role} {dotted(selector)} does not exist") from None

        for assignment in self.assignments:
            target = assignment.target
            current = read(target, "the variable")
            if assignment.source is not None:
                value = read(assignment.source, f"the value for {dotted(target)},")
            else:
                value = assignment.constant
            new = apply_operation(assignment.operation, current, value, dotted(target))
            rt.assign(target, new)
            written[target] = new
            updated.append({"selector": list(target), "operation": assignment.operation, "value": new})
        return NodeResult({}, process_data={"updated_variables": updated})


class AssignerNodeType(NodeType):
    """``assigner``: the Variable Assigner (versions 1 and 2)."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(
        name="assigner",
        label="Variable Assigner",
        description="Writes conversation variables and loop variables: over-write, clear, set, arithmetic, "
        "append, extend, remove first/last.",
        versions=["1", "2"],
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return AssignerNode(node_id, config)
