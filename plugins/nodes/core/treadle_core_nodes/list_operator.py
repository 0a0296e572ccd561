"""The List Operator node: filter, pick, sort and cut an array (NODE-LIST-OPERATOR).

``variable`` is an array of text, numbers, booleans or files. In Dify's order:

1. ``filter_by`` (when enabled): keep the elements meeting every condition
   ``{key, comparison_operator, value}``; ``key`` names the file attribute for arrays of files
   (type, extension, mime_type, size, name, transfer_method, url) and is ignored otherwise;
   ``value`` may hold ``{{#refs#}}``. Operators as in :mod:`treadle_core_nodes.conditions`.
2. ``extract_by`` (when enabled): keep only the ``serial``-th element (1-based; may be a ``{{#ref#}}``).
3. ``order_by`` (when enabled): sort ``asc`` or ``desc``, by the file attribute ``key`` for files.
4. ``limit`` (when enabled): keep the first ``size`` elements (1 to 20).

Outputs ``result``, ``first_record`` and ``last_record`` (``null`` for an empty result).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import choice, flag, integer, items, mapping, parse_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRunError, NodeRuntime, PreparedNode, VariableNotFound
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

from .conditions import Expected, ItemCondition, parse_item_condition, runtime_lookup
from .files import FILE_ATTRIBUTES, file_attribute, is_file
from .selectors import dotted

__all__ = ["MAX_LIMIT", "ListOperation", "ListOperatorNode", "ListOperatorNodeType", "parse_list_operation"]

#: The most elements ``limit`` may keep.
MAX_LIMIT = 20


class ListOperatorError(NodeRunError):
    """The array cannot be processed as configured."""

    error_type = "ListOperatorError"


@dataclass(frozen=True, slots=True)
class ListOperation:
    """What the node does to its array; a step that is off is ``None`` (or empty)."""

    variable: Selector
    filters: tuple[ItemCondition, ...] = ()
    serial: Expected | None = None
    order_key: str | None = None
    descending: bool | None = None
    limit: int | None = None


def parse_list_operation(config: Mapping[str, Any]) -> ListOperation:
    """The steps of a List Operator's DSL ``data``."""
    variable = parse_selector(config.get("variable"), "variable")
    filter_by = mapping(config.get("filter_by"), "filter_by")
    filters: tuple[ItemCondition, ...] = ()
    if flag(filter_by.get("enabled"), "filter_by.enabled"):
        filters = tuple(
            parse_item_condition(item, f"filter_by.conditions[{i}]")
            for i, item in enumerate(items(filter_by.get("conditions"), "filter_by.conditions"))
        )
    extract_by = mapping(config.get("extract_by"), "extract_by")
    serial = None
    if flag(extract_by.get("enabled"), "extract_by.enabled"):
        serial_text = text(extract_by.get("serial"), "extract_by.serial", "1")
        serial = Expected.of(serial_text)
        if serial.parts is None:
            integer(serial_text, "extract_by.serial", 1, minimum=1)
    order_by = mapping(config.get("order_by"), "order_by")
    order_key, descending = None, None
    if flag(order_by.get("enabled"), "order_by.enabled"):
        order_key = text(order_by.get("key"), "order_by.key") or None
        if order_key is not None and order_key not in FILE_ATTRIBUTES:
            raise NodeConfigError(f"unknown file attribute {order_key!r}", "order_by.key")
        descending = choice(order_by.get("value"), "order_by.value", {"asc", "desc"}, "asc") == "desc"
    limit_by = mapping(config.get("limit"), "limit")
    limit = None
    if flag(limit_by.get("enabled"), "limit.enabled"):
        limit = integer(limit_by.get("size"), "limit.size", MAX_LIMIT, minimum=1, maximum=MAX_LIMIT)
    return ListOperation(variable, filters, serial, order_key, descending, limit)


def _sort_key(key: str | None) -> Any:
    def by(item: Any) -> tuple[bool, Any]:
        value = file_attribute(item, key) if key is not None and is_file(item) else item
        return value is None, value

    return by


class ListOperatorNode(PreparedNode):
    """A prepared List Operator node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.operation = parse_list_operation(config)

    def selectors(self) -> list[Selector]:
        op = self.operation
        found = [op.variable, *(s for condition in op.filters for s in condition.expected.reads())]
        if op.serial is not None:
            found.extend(op.serial.reads())
        return list(dict.fromkeys(found))

    def run(self, rt: NodeRuntime) -> NodeResult:
        op = self.operation
        try:
            array = rt.get(op.variable)
        except VariableNotFound:
            raise ListOperatorError(f"the variable {dotted(op.variable)} does not exist") from None
        if not array:
            return NodeResult({"result": [], "first_record": None, "last_record": None})
        if not isinstance(array, list | tuple):
            raise ListOperatorError(f"{dotted(op.variable)} is not an array but {type(array).__name__}")
        result = list(array)
        files = is_file(result[0])
        lookup = runtime_lookup(rt) if op.filters or op.serial is not None else None
        for condition in op.filters:
            assert lookup is not None
            if files and condition.key is None:
                raise ListOperatorError("a filter on an array of files needs the file attribute it tests (key)")
            expected = condition.resolve(lookup)
            result = [item for item in result if condition.test(item, expected)]
        if op.serial is not None:
            assert lookup is not None
            result = self._extract(result, op.serial.resolve(lookup))
        if op.descending is not None:
            if files and op.order_key is None:
                raise ListOperatorError("sorting an array of files needs the file attribute to sort by (key)")
            try:
                result.sort(key=_sort_key(op.order_key), reverse=op.descending)
            except TypeError:
                raise ListOperatorError("the array's elements cannot be sorted: they are of different types") from None
        if op.limit is not None:
            result = result[: op.limit]
        return NodeResult(
            {
                "result": result,
                "first_record": result[0] if result else None,
                "last_record": result[-1] if result else None,
            }
        )

    @staticmethod
    def _extract(result: list[Any], serial: Any) -> list[Any]:
        try:
            position = int(str(serial).strip())
        except ValueError:
            raise ListOperatorError(f"the position to extract must be a whole number, not {serial!r}") from None
        if position < 1 or position > len(result):
            raise ListOperatorError(f"the position to extract must be between 1 and {len(result)}, not {position}")
        return [result[position - 1]]


class ListOperatorNodeType(NodeType):
    """``list-operator``: filter, extract, sort and limit arrays."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(
        name="list-operator",
        label="List Operator",
        description="Filters, picks, sorts and limits an array of text, numbers, booleans or files.",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return ListOperatorNode(node_id, config)
