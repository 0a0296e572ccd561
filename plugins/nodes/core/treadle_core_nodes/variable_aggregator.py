"""The Variable Aggregator node: one output for variables from exclusive branches
(NODE-VAR-AGGREGATOR, EXEC-BRANCH-EXCLUSIVE).

``variables`` lists selectors; the output ``output`` is the value of the first that exists (the
branch that ran). With ``advanced_settings.group_enabled``, each of ``advanced_settings.groups``
(``{group_name, variables}``) is aggregated the same way into ``{group_name: {"output": value}}``.
An output none of whose variables exists is left out, as Dify leaves it. Older DSL calls this node
``variable-assigner``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import flag, items, mapping, parse_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode, VariableNotFound
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

__all__ = [
    "LEGACY_NAME",
    "AggregationGroup",
    "VariableAggregatorNode",
    "VariableAggregatorNodeType",
]

#: The type older DSL versions give this node.
LEGACY_NAME = "variable-assigner"

_MISSING = object()


@dataclass(frozen=True, slots=True)
class AggregationGroup:
    """A set of variables merged into one output; ``name`` is ``None`` for the ungrouped node."""

    name: str | None
    selectors: tuple[Selector, ...]

    def first_value(self, rt: NodeRuntime) -> Any:
        """The value of the first variable that exists, else ``_MISSING``."""
        get = rt.get
        for selector in self.selectors:
            try:
                return get(selector)
            except VariableNotFound:
                continue
        return _MISSING


def _selectors(value: Any, path: str) -> tuple[Selector, ...]:
    return tuple(parse_selector(item, f"{path}[{i}]") for i, item in enumerate(items(value, path)))


def parse_groups(config: Mapping[str, Any]) -> tuple[AggregationGroup, ...]:
    """The aggregation groups of the node's DSL ``data`` (one unnamed group when groups are off)."""
    settings = mapping(config.get("advanced_settings"), "advanced_settings")
    if not flag(settings.get("group_enabled"), "advanced_settings.group_enabled"):
        return (AggregationGroup(None, _selectors(config.get("variables"), "variables")),)
    groups = []
    seen: set[str] = set()
    for i, item in enumerate(items(settings.get("groups"), "advanced_settings.groups")):
        path = f"advanced_settings.groups[{i}]"
        item = mapping(item, path)
        name = text(item.get("group_name"), f"{path}.group_name")
        if not name:
            raise NodeConfigError("a group needs a group_name", f"{path}.group_name")
        if name in seen:
            raise NodeConfigError(f"the group name {name!r} is used twice", f"{path}.group_name")
        seen.add(name)
        groups.append(AggregationGroup(name, _selectors(item.get("variables"), f"{path}.variables")))
    return tuple(groups)


class VariableAggregatorNode(PreparedNode):
    """A prepared Variable Aggregator node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.groups = parse_groups(config)

    def selectors(self) -> list[Selector]:
        return list(dict.fromkeys(selector for group in self.groups for selector in group.selectors))

    def run(self, rt: NodeRuntime) -> NodeResult:
        outputs: dict[str, Any] = {}
        for group in self.groups:
            value = group.first_value(rt)
            if value is _MISSING:
                continue
            if group.name is None:
                outputs["output"] = value
            else:
                outputs[group.name] = {"output": value}
        return NodeResult(outputs)


class VariableAggregatorNodeType(NodeType):
    """``variable-aggregator`` (and, for older DSL, ``variable-assigner``)."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    def __init__(self, name: str = "variable-aggregator") -> None:
        self.schema = NodeTypeSchema(
            name=name,
            label="Variable Aggregator",
            description="Outputs whichever of several variables from exclusive branches has a value; "
            "aggregation groups give one output each.",
        )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return VariableAggregatorNode(node_id, config)
