"""Knowledge retrieval from plugin code: what a plugin asks the kernel (:class:`KnowledgeQuery`, the
Kernel method ``retrieve_knowledge``) and what it gets back (retrieved chunks, as plain objects).

The query carries a Knowledge Retrieval node's settings as Dify's DSL writes them
(NODE-KNOWLEDGE-RETRIEVAL): ``retrieval_mode`` ``multiple`` (every knowledge base searched at once,
the results pooled, then reranked or weighted, cut to ``top_k`` and the score threshold:
KB-RET-MULTIPATH) or ``single`` (a model picks the one knowledge base that fits the query, which is
then searched with its own settings), and metadata filtering (KB-META-FILTER): ``disabled``,
``manual`` (``metadata_filtering_conditions``, their variable references already replaced by values)
or ``automatic`` (a model, ``metadata_model_config``, writes the conditions from the query).

Each retrieved chunk comes back as an object in the shape of Dify's citations
(``retriever_resources``, API-SSE-MSG-END), best first, numbered from 1 by ``position``:
``position, dataset_id, dataset_name, document_id, document_name, data_source_type, segment_id,
retriever_from, score, hit_count, word_count, segment_position, index_node_hash, content, summary,
doc_metadata, child_chunks``. ``content`` is what a model should read: for a Q&A chunk, the question
and its answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RESOURCE_FIELDS", "KnowledgeQuery"]

#: The fields of every retrieved chunk the kernel answers with (see the module docstring).
RESOURCE_FIELDS = (
    "position",
    "dataset_id",
    "dataset_name",
    "document_id",
    "document_name",
    "data_source_type",
    "segment_id",
    "retriever_from",
    "score",
    "hit_count",
    "word_count",
    "segment_position",
    "index_node_hash",
    "content",
    "summary",
    "doc_metadata",
    "child_chunks",
)


class KnowledgeQuery(BaseModel):
    """One retrieval a plugin asks of the kernel (see the module docstring for the modes)."""

    model_config = ConfigDict(extra="forbid")

    dataset_ids: list[str] = Field(min_length=1)
    query: str
    retrieval_mode: Literal["single", "multiple"] = "multiple"
    #: ``multiple``: ``{top_k, score_threshold, reranking_enable, reranking_mode, reranking_model
    #: {provider, model}, weights{vector_setting{vector_weight, ...}, keyword_setting{keyword_weight}}}``.
    multiple_retrieval_config: dict[str, Any] | None = None
    #: ``single``: ``{model: {provider, name, mode, completion_params}}``, the model that picks.
    single_retrieval_config: dict[str, Any] | None = None
    metadata_filtering_mode: Literal["disabled", "automatic", "manual"] = "disabled"
    #: ``manual``: ``{logical_operator: and|or, conditions: [{name, comparison_operator, value}]}``.
    metadata_filtering_conditions: dict[str, Any] | None = None
    #: ``automatic``: the model that writes the conditions (``{provider, name, mode, completion_params}``).
    metadata_model_config: dict[str, Any] | None = None
    #: The app the retrieval is for and the user it serves (recorded in the knowledge base's query log).
    app_id: str | None = None
    user_id: str | None = None
    #: ``retriever_from`` of the citations: ``workflow`` for a node, ``app`` for a chat app, ``dev``
    #: for a debugging run.
    retriever_from: str = "workflow"
