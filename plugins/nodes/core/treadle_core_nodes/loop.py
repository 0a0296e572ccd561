"""The Loop node: its sub-graph round after round, each building on the last (NODE-LOOP,
NODE-EXIT-LOOP, EXEC-LOOP-ERRORS).

- ``loop_variables: [{label, var_type, value_type, value}]`` are the loop's state: ``value_type``
  ``constant`` takes ``value`` (JSON text is read for arrays, objects, numbers and booleans),
  ``variable`` takes the value of the selector in ``value`` when the loop starts. Children read them
  as ``[loop_id, label]`` and change them with a Variable Assigner; ``index`` (0-based round) is
  readable too unless a loop variable has that name.
- The loop stops when ``break_conditions`` (joined by ``logical_operator``, read like If/Else
  conditions, over the loop variables and anything else in scope) hold after a round (they are
  also checked before the first round, where an error counts as "not yet"), when ``loop_count``
  rounds have run, or when a Loop End node ran in the round.
- A child that fails stops the loop at once with that child's error.

Outputs the loop variables' final values and ``loop_round``, the number of rounds run.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import choice, integer, items, mapping, parse_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import (
    ContainerRun,
    NodeConfigError,
    NodeResult,
    NodeRunError,
    NodeRuntime,
    PreparedNode,
    VariableNotFound,
)
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

from .conditions import ConditionError, ConditionGroup, parse_group
from .selectors import dotted

__all__ = ["LOOP_VARIABLE_TYPES", "LoopConfig", "LoopNode", "LoopNodeType", "LoopVariable", "parse_loop"]

#: The types a loop variable may have.
LOOP_VARIABLE_TYPES = frozenset(
    {"string", "number", "boolean", "object", "array[string]", "array[number]", "array[object]", "array[boolean]"}
)

_DEFAULT_LOOP_COUNT = 10


@dataclass(frozen=True, slots=True)
class LoopVariable:
    """One loop variable and its initial value (from ``source``, or ``constant``)."""

    label: str
    var_type: str
    source: Selector | None = None
    constant: Any = None

    def initial(self, rt: NodeRuntime) -> Any:
        if self.source is None:
            return copy.deepcopy(self.constant) if isinstance(self.constant, list | dict) else self.constant
        try:
            return rt.get(self.source)
        except VariableNotFound:
            raise NodeRunError(
                f"loop variable {self.label!r} starts from {dotted(self.source)}, which does not exist",
                error_type="LoopNodeError",
            ) from None


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """A Loop node's settings."""

    variables: tuple[LoopVariable, ...]
    break_conditions: ConditionGroup | None
    loop_count: int


def _fits(var_type: str, value: Any) -> bool:
    if var_type == "string":
        return isinstance(value, str)
    if var_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if var_type == "boolean":
        return isinstance(value, bool)
    if var_type == "object":
        return isinstance(value, dict)
    if not isinstance(value, list):
        return False
    return all(_fits(var_type[6:-1], element) for element in value)


def _constant(var_type: str, value: Any, path: str) -> Any:
    if value is None:
        return None
    if not _fits(var_type, value) and isinstance(value, str) and var_type != "string":
        try:
            value = json.loads(value) if value.strip() else ([] if var_type.startswith("array") else None)
        except ValueError:
            raise NodeConfigError(f"{value!r} is not a valid {var_type} value", path) from None
    if value is not None and not _fits(var_type, value):
        raise NodeConfigError(f"{value!r} is not a valid {var_type} value", path)
    return value


def _parse_variable(data: Any, path: str) -> LoopVariable:
    data = mapping(data, path)
    label = text(data.get("label"), f"{path}.label")
    if not label or any(ch.isspace() or ch == "." for ch in label):
        raise NodeConfigError(f"a loop variable needs a name without spaces or dots, not {label!r}", f"{path}.label")
    var_type = choice(data.get("var_type"), f"{path}.var_type", LOOP_VARIABLE_TYPES, "string")
    value_type = choice(data.get("value_type"), f"{path}.value_type", {"constant", "variable"}, "constant")
    if value_type == "variable":
        return LoopVariable(label, var_type, source=parse_selector(data.get("value"), f"{path}.value"))
    return LoopVariable(label, var_type, constant=_constant(var_type, data.get("value"), f"{path}.value"))


def parse_loop(config: Mapping[str, Any]) -> LoopConfig:
    """The settings of a Loop node's DSL ``data``."""
    variables = tuple(
        _parse_variable(item, f"loop_variables[{i}]")
        for i, item in enumerate(items(config.get("loop_variables"), "loop_variables"))
    )
    seen: set[str] = set()
    for i, variable in enumerate(variables):
        if variable.label in seen:
            raise NodeConfigError(
                f"the loop variable {variable.label!r} is declared twice", f"loop_variables[{i}].label"
            )
        seen.add(variable.label)
    group = parse_group(
        config.get("break_conditions"), config.get("logical_operator"), "break_conditions", "logical_operator"
    )
    return LoopConfig(
        variables=variables,
        break_conditions=group if group.conditions else None,
        loop_count=integer(config.get("loop_count"), "loop_count", _DEFAULT_LOOP_COUNT, minimum=0),
    )


def _walk(value: Any, path: Selector) -> Any:
    for part in path:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


class LoopNode(PreparedNode):
    """A prepared Loop node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.loop = parse_loop(config)
        self._labels = tuple(variable.label for variable in self.loop.variables)

    def selectors(self) -> list[Selector]:
        """Where loop variables start from, and what the break conditions read (less the loop's own
        variables)."""
        found = [variable.source for variable in self.loop.variables if variable.source is not None]
        if self.loop.break_conditions is not None:
            found.extend(s for s in self.loop.break_conditions.reads() if s[0] != self.node_id)
        return list(dict.fromkeys(found))

    def _should_stop(self, rt: NodeRuntime, scope: dict[str, Any], child: ContainerRun | None) -> bool:
        conditions = self.loop.break_conditions
        assert conditions is not None
        node_id = self.node_id
        reader = child if child is not None else rt

        def lookup(selector: Selector) -> Any:
            if selector[0] == node_id and selector[1] in scope:
                return _walk(scope[selector[1]], selector[2:])
            try:
                return reader.get(selector)
            except VariableNotFound:
                return None

        return conditions.holds(lookup)

    async def run(self, rt: NodeRuntime) -> NodeResult:
        loop = self.loop
        scope: dict[str, Any] = {variable.label: variable.initial(rt) for variable in loop.variables}
        inputs = dict(scope)
        count_index = "index" not in scope
        rounds = 0
        stop = False
        if loop.break_conditions is not None:
            try:
                stop = self._should_stop(rt, scope, None)
            except ConditionError:
                stop = False
        while not stop and rounds < loop.loop_count:
            if count_index:
                scope["index"] = rounds
            child = await rt.run_children(scope)
            rounds += 1
            if child.broke:
                break
            if loop.break_conditions is not None:
                stop = self._should_stop(rt, scope, child)
        outputs = {label: scope[label] for label in self._labels}
        outputs["loop_round"] = rounds
        return NodeResult(outputs, inputs={"loop_count": loop.loop_count, **inputs})


class LoopNodeType(NodeType):
    """``loop``: runs its children until a break condition, the round limit, or a Loop End node."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(
        name="loop",
        label="Loop",
        description="Runs its sub-graph round after round with loop variables, until a break condition holds, "
        "the maximum count is reached, or an Exit Loop node runs.",
        container=True,
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return LoopNode(node_id, config)
