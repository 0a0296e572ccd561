"""Workflow control-flow node types: start, end, answer, if-else, template-transform,
variable-aggregator, assigner, list-operator, iteration, loop (and the container markers
iteration-start, loop-start, loop-end).

They run inline by default (DESIGN.md, "The plugin contract"): each is prepared once per graph into
plain dataclasses and runs as a plain function, except Iteration and Loop, which await their
children.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType
from treadle_sdk.hookspecs import hookimpl

from .answer import AnswerNodeType
from .assigner import AssignerNodeType
from .end import EndNodeType
from .if_else import IfElseNodeType
from .iteration import IterationNodeType
from .list_operator import ListOperatorNodeType
from .loop import LoopNodeType
from .markers import MARKER_TYPES, MarkerNodeType
from .start import InvalidInputs, StartNodeType, validate_inputs
from .template_transform import TemplateTransformNodeType
from .variable_aggregator import LEGACY_NAME, VariableAggregatorNodeType

__all__ = [
    "AnswerNodeType",
    "AssignerNodeType",
    "EndNodeType",
    "IfElseNodeType",
    "InvalidInputs",
    "IterationNodeType",
    "ListOperatorNodeType",
    "LoopNodeType",
    "MarkerNodeType",
    "StartNodeType",
    "TemplateTransformNodeType",
    "VariableAggregatorNodeType",
    "node_types",
    "register_node_types",
    "validate_inputs",
]


def node_types() -> list[NodeType]:
    """One instance of every node type this plugin offers."""
    return [
        StartNodeType(),
        EndNodeType(),
        AnswerNodeType(),
        IfElseNodeType(),
        TemplateTransformNodeType(),
        VariableAggregatorNodeType(),
        VariableAggregatorNodeType(LEGACY_NAME),
        AssignerNodeType(),
        ListOperatorNodeType(),
        IterationNodeType(),
        LoopNodeType(),
        *(MarkerNodeType(name) for name in MARKER_TYPES),
    ]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register the control-flow node types."""
    for node_type in node_types():
        register(node_type)
