"""Workflow node types that call models: ``llm``, ``parameter-extractor`` and
``question-classifier`` (NODE-LLM, NODE-PARAMETER-EXTRACTOR, NODE-QUESTION-CLASSIFIER).

They run inline by default (DESIGN.md, "The plugin contract"): they execute no foreign code — every
model call goes through the run's kernel client (``NodeRuntime.kernel``), which maps the DSL's
provider to an installed one and adds the workspace's credentials — and the LLM node sits on the
streaming path of chat answers.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType
from treadle_sdk.hookspecs import hookimpl

from .llm_node import LLMNode, LLMNodeType
from .parameter_extractor import PARAMETER_TYPES, Parameter, ParameterExtractorNode, ParameterExtractorNodeType
from .question_classifier import QuestionClass, QuestionClassifierNode, QuestionClassifierNodeType

__all__ = [
    "PARAMETER_TYPES",
    "LLMNode",
    "LLMNodeType",
    "Parameter",
    "ParameterExtractorNode",
    "ParameterExtractorNodeType",
    "QuestionClass",
    "QuestionClassifierNode",
    "QuestionClassifierNodeType",
    "node_types",
    "register_node_types",
]


def node_types() -> list[NodeType]:
    """One instance of every node type this plugin offers."""
    return [LLMNodeType(), ParameterExtractorNodeType(), QuestionClassifierNodeType()]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register the model-calling node types."""
    for node_type in node_types():
        register(node_type)
