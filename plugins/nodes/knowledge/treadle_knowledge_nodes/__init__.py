"""The ``knowledge-retrieval`` node type (NODE-KNOWLEDGE-RETRIEVAL): searches the workspace's knowledge
bases for a query and outputs the chunks found as ``result``, the context an LLM node reads.

It runs inline by default (DESIGN.md, "The plugin contract"): it runs no foreign code — the search
itself is one call to the kernel (``retrieve_knowledge``), which owns the knowledge bases, their
vector stores and the models they are searched with.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType
from treadle_sdk.hookspecs import hookimpl

from .config import (
    COMPARISON_OPERATORS,
    MetadataCondition,
    MetadataFilter,
    RetrievalConfig,
    parse_retrieval_config,
)
from .node import KnowledgeRetrievalNode, KnowledgeRetrievalNodeType, result_item

__all__ = [
    "COMPARISON_OPERATORS",
    "KnowledgeRetrievalNode",
    "KnowledgeRetrievalNodeType",
    "MetadataCondition",
    "MetadataFilter",
    "RetrievalConfig",
    "node_types",
    "parse_retrieval_config",
    "register_node_types",
    "result_item",
]


def node_types() -> list[NodeType]:
    """One instance of every node type this plugin offers."""
    return [KnowledgeRetrievalNodeType()]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register the knowledge-retrieval node type."""
    for node_type in node_types():
        register(node_type)
