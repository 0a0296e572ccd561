"""The If/Else node: cases checked in order, the first that holds picks the branch (NODE-IFELSE,
EXEC-BRANCH-EXCLUSIVE).

``cases: [{case_id, logical_operator, conditions}]``; the branch taken is the ``case_id`` of the
first case whose conditions hold, else ``false`` (the ELSE branch). The legacy shape, with
``conditions`` and ``logical_operator`` on the node itself, is one case with the id ``true``.
Outputs ``result`` (whether a case held) and ``selected_case_id``. Operators: see
:mod:`treadle_core_nodes.conditions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import items, mapping, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

from .conditions import ConditionGroup, parse_group, runtime_lookup

__all__ = ["ELSE_HANDLE", "IfElseCase", "IfElseNode", "IfElseNodeType", "parse_cases"]

#: The branch taken when no case holds.
ELSE_HANDLE = "false"


@dataclass(frozen=True, slots=True)
class IfElseCase:
    """One IF/ELIF case: the handle of its branch and its conditions."""

    case_id: str
    conditions: ConditionGroup


def parse_cases(config: Mapping[str, Any]) -> tuple[IfElseCase, ...]:
    """The cases of an If/Else node's DSL ``data``, in order."""
    if config.get("cases") is None and config.get("conditions") is not None:
        group = parse_group(config.get("conditions"), config.get("logical_operator"), "conditions", "logical_operator")
        return (IfElseCase("true", group),)
    cases = []
    seen: set[str] = set()
    for i, item in enumerate(items(config.get("cases"), "cases")):
        path = f"cases[{i}]"
        item = mapping(item, path)
        case_id = text(item.get("case_id"), f"{path}.case_id") or text(item.get("id"), f"{path}.id")
        if not case_id:
            raise NodeConfigError("a case needs a case_id (the handle of its branch)", f"{path}.case_id")
        if case_id in seen or case_id == ELSE_HANDLE:
            raise NodeConfigError(f"the case id {case_id!r} is used twice (or is the ELSE branch's)", f"{path}.case_id")
        seen.add(case_id)
        group = parse_group(
            item.get("conditions"), item.get("logical_operator"), f"{path}.conditions", f"{path}.logical_operator"
        )
        cases.append(IfElseCase(case_id, group))
    return tuple(cases)


class IfElseNode(PreparedNode):
    """A prepared If/Else node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.cases = parse_cases(config)

    def selectors(self) -> list[Selector]:
        return list(dict.fromkeys(selector for case in self.cases for selector in case.conditions.reads()))

    def run(self, rt: NodeRuntime) -> NodeResult:
        lookup = runtime_lookup(rt)
        for case in self.cases:
            if case.conditions.holds(lookup):
                return NodeResult({"result": True, "selected_case_id": case.case_id}, handle=case.case_id)
        return NodeResult({"result": False, "selected_case_id": ELSE_HANDLE}, handle=ELSE_HANDLE)


class IfElseNodeType(NodeType):
    """``if-else``: conditional branches."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(
        name="if-else",
        label="If/Else",
        description="Takes the branch of the first case whose conditions hold, else the ELSE branch.",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return IfElseNode(node_id, config)
