"""The Knowledge Retrieval node (NODE-KNOWLEDGE-RETRIEVAL): the query variable's text searched in the
node's knowledge bases through the kernel (``retrieve_knowledge``), the chunks found output as
``result``.

Each item of ``result`` is what Dify's node outputs, the shape an LLM node's context reads::

    {"content": ..., "title": <document name>, "metadata": {"_source": "knowledge", "position",
     "dataset_id", "dataset_name", "document_id", "document_name", "data_source_type", "segment_id",
     "retriever_from", "score", "child_chunks", "segment_hit_count", "segment_word_count",
     "segment_position", "segment_index_node_hash", "doc_metadata"}}

plus ``summary`` when the chunk has one. A node with no knowledge base outputs an empty ``result``
without asking the kernel; an empty query fails the node ("Query is required.", as in Dify).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from treadle_sdk.errors import PluginError
from treadle_sdk.extensions import NodeType
from treadle_sdk.knowledge import KnowledgeQuery
from treadle_sdk.nodes import NodeResult, NodeRunError, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector, find_selectors

from .config import RetrievalConfig, parse_retrieval_config

__all__ = ["KnowledgeRetrievalNode", "KnowledgeRetrievalNodeType", "result_item"]

#: Dify's error type for a failed retrieval (what error strategies and run records show).
ERROR_TYPE = "KnowledgeRetrievalNodeError"

#: ``metadata`` key of a result item <- field of the kernel's chunk (Dify's names for each).
_METADATA_FIELDS = {
    "position": "position",
    "dataset_id": "dataset_id",
    "dataset_name": "dataset_name",
    "document_id": "document_id",
    "document_name": "document_name",
    "data_source_type": "data_source_type",
    "segment_id": "segment_id",
    "retriever_from": "retriever_from",
    "score": "score",
    "child_chunks": "child_chunks",
    "segment_hit_count": "hit_count",
    "segment_word_count": "word_count",
    "segment_position": "segment_position",
    "segment_index_node_hash": "index_node_hash",
    "doc_metadata": "doc_metadata",
}


def result_item(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """One item of ``result`` from one chunk the kernel found (see the module docstring)."""
    metadata: dict[str, Any] = {"_source": "knowledge"}
    metadata.update({key: chunk.get(field) for key, field in _METADATA_FIELDS.items()})
    item: dict[str, Any] = {"metadata": metadata, "title": chunk.get("document_name"), "content": chunk.get("content")}
    if chunk.get("summary"):
        item["summary"] = chunk["summary"]
    return item


class KnowledgeRetrievalNode(PreparedNode):
    """A prepared Knowledge Retrieval node (see the module docstring)."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.settings: RetrievalConfig = parse_retrieval_config(config)

    def selectors(self) -> list[Selector]:
        found: list[Selector] = [("sys", "user_id"), ("sys", "app_id")]
        if self.settings.query_selector is not None:
            found.append(self.settings.query_selector)
        found.extend(self.settings.condition_selectors())
        found.extend(find_selectors(self.config))
        return list(dict.fromkeys(found))

    def _query(self, rt: NodeRuntime) -> str:
        selector = self.settings.query_selector
        value = rt.get_or(selector, "") if selector is not None else ""
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise NodeRunError(
                f"the query variable {'.'.join(selector or ())} must be a text, not {type(value).__name__}",
                error_type=ERROR_TYPE,
            )
        return value

    def _conditions(self, rt: NodeRuntime) -> dict[str, Any] | None:
        """The manual conditions with the variables in their values replaced (Dify renders them too)."""
        found = self.settings.metadata_filter
        if found is None:
            return None
        conditions = [
            {
                "name": c.name,
                "comparison_operator": c.comparison_operator,
                "value": rt.render(c.value) if isinstance(c.value, str) else c.value,
            }
            for c in found.conditions
        ]
        return {"logical_operator": found.logical_operator, "conditions": conditions}

    async def run(self, rt: NodeRuntime) -> NodeResult:
        query = self._query(rt)
        settings = self.settings
        inputs = {"query": query}
        if not settings.dataset_ids:
            return NodeResult({"result": []}, inputs=inputs)
        if not query.strip():
            raise NodeRunError("Query is required.", error_type=ERROR_TYPE)
        if rt.kernel is None:
            raise NodeRunError(
                f"node {self.node_id} searches knowledge bases, but this run has no kernel to search through",
                error_type=ERROR_TYPE,
            )
        app_id, user_id = rt.get_or(("sys", "app_id")), rt.get_or(("sys", "user_id"))
        request = KnowledgeQuery.model_validate({
            "dataset_ids": list(settings.dataset_ids),
            "query": query,
            "retrieval_mode": settings.retrieval_mode,
            "multiple_retrieval_config": settings.multiple,
            "single_retrieval_config": None if settings.single_model is None else {"model": settings.single_model},
            "metadata_filtering_mode": settings.metadata_mode,
            "metadata_filtering_conditions": self._conditions(rt),
            "metadata_model_config": settings.metadata_model,
            "app_id": app_id if isinstance(app_id, str) and app_id else None,
            "user_id": user_id if isinstance(user_id, str) and user_id else None,
        })
        try:
            chunks = await rt.kernel.aretrieve_knowledge(request)
        except PluginError as exc:
            raise NodeRunError(exc.message, error_type=str(exc.details.get("error_type") or ERROR_TYPE)) from exc
        return NodeResult({"result": [result_item(chunk) for chunk in chunks]}, inputs=inputs)


class KnowledgeRetrievalNodeType(NodeType):
    """``knowledge-retrieval``: searches knowledge bases through the kernel; inline by default."""

    blocking = False

    schema = NodeTypeSchema(
        name="knowledge-retrieval",
        label="Knowledge Retrieval",
        description=(
            "Searches the workspace's knowledge bases for a query (all at once, reranked, or the one a "
            "model picks; optionally filtered by document metadata) and outputs the chunks found as `result`."
        ),
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return KnowledgeRetrievalNode(node_id, config)
