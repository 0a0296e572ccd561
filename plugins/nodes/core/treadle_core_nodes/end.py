"""The End (Output) node: the values a workflow returns (NODE-OUTPUT).

``outputs: [{variable, value_selector}]``; each output is the value of its variable, or ``null``
when that variable does not exist. The engine merges the outputs of every End node that runs
(EXEC-OUTPUT-MERGE).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import items, mapping, parse_optional_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

__all__ = ["EndNode", "EndNodeType", "OutputVariable"]


@dataclass(frozen=True, slots=True)
class OutputVariable:
    """One output: its name and where its value comes from (``None``: no source, the value is null)."""

    name: str
    selector: Selector | None


def _parse_outputs(config: Mapping[str, Any]) -> tuple[OutputVariable, ...]:
    outputs = []
    seen: set[str] = set()
    for i, item in enumerate(items(config.get("outputs"), "outputs")):
        path = f"outputs[{i}]"
        item = mapping(item, path)
        name = text(item.get("variable"), f"{path}.variable")
        if not name:
            raise NodeConfigError("an output needs a variable name", f"{path}.variable")
        if name in seen:
            raise NodeConfigError(f"the output {name!r} is declared twice", f"{path}.variable")
        seen.add(name)
        outputs.append(
            OutputVariable(name, parse_optional_selector(item.get("value_selector"), f"{path}.value_selector"))
        )
    return tuple(outputs)


class EndNode(PreparedNode):
    """A prepared End node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.outputs = _parse_outputs(config)

    def run(self, rt: NodeRuntime) -> NodeResult:
        get_or = rt.get_or
        return NodeResult(
            {output.name: None if output.selector is None else get_or(output.selector) for output in self.outputs}
        )


class EndNodeType(NodeType):
    """``end``: the workflow's Output node."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(name="end", label="Output", description="Returns named values as the workflow's outputs.")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return EndNode(node_id, config)
