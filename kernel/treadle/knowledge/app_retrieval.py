"""Retrieval for apps: what the Kernel service's ``retrieve_knowledge`` runs for a Knowledge Retrieval
node or a chat app's knowledge bases (NODE-KNOWLEDGE-RETRIEVAL, APP-RETRIEVAL-SETTINGS).

A :class:`~treadle_sdk.knowledge.KnowledgeQuery` carries the node's settings; this module turns them
into a :class:`~treadle.knowledge.retrieval.Retriever` call, as Dify does:

- ``multiple`` (KB-RET-MULTIPATH): every knowledge base of the workspace among ``dataset_ids`` is
  searched at once, each by its own search method (the same method for all when they agree; hybrid
  when they differ, so that each one's strengths count), the results pooled, reranked by the node's
  rerank model or weighted (semantic / keyword), then cut to the node's ``top_k`` and threshold;
- ``single``: the node's model picks the one knowledge base whose name and description fit the query
  (function calling: each knowledge base offered as a tool, as Dify's router does); it is searched
  with its own retrieval settings. A model that calls no tool picks none: the result is empty.

Knowledge bases the workspace does not have are left out; none left is an empty result. The chunks
come back as citation objects, numbered from 1 (:mod:`treadle_sdk.knowledge`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy import select
from treadle_sdk.context import KernelClient
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.knowledge import KnowledgeQuery
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole, PromptMessageTool, TextContent

from ..store import Database, Dataset
from .errors import KnowledgeError, KnowledgeInputError
from .metadata_filter import MetadataFilter, conditions_from_query, shared_fields
from .retrieval import Retriever
from .retrieval_model import RerankingModel, RetrievalSettings, ScoreWeights, SearchMethod

__all__ = ["AppRetrieval", "KernelClients", "node_settings"]

#: The router's prompt and sampling (Dify's function-call router asks the same way).
_ROUTER_SYSTEM = "You are a helpful AI assistant."
_ROUTER_PARAMETERS = {"temperature": 0.2, "top_p": 0.3, "max_tokens": 1500}


class KernelClients(Protocol):
    """Where model calls go for a tenant (the plugin supervisor's ``kernel_client``)."""

    def kernel_client(self, *, tenant_id: str = "", depth: int = 0) -> AbstractContextManager[KernelClient]: ...


def _search_method(datasets: Sequence[Dataset]) -> SearchMethod:
    methods = {RetrievalSettings.parse(d.retrieval_model, field=f"dataset {d.id}").search_method for d in datasets}
    if len(methods) == 1:
        (method,) = methods
        return method
    return "hybrid_search"


def node_settings(datasets: Sequence[Dataset], raw: Mapping[str, Any] | None) -> RetrievalSettings:
    """The settings of a ``multiple`` retrieval: the node's ``multiple_retrieval_config`` (TopK,
    threshold, rerank model or weights) over the knowledge bases' own search method."""
    config = dict(raw or {})
    path = "multiple_retrieval_config"
    model = config.get("reranking_model")
    reranking_model = None
    if isinstance(model, Mapping) and model.get("provider") and model.get("model"):
        reranking_model = RerankingModel(str(model["provider"]), str(model["model"]))
    weights = None
    if isinstance(config.get("weights"), Mapping):
        vector = config["weights"].get("vector_setting") or {}
        keyword = config["weights"].get("keyword_setting") or {}
        weights = ScoreWeights(
            vector_weight=float(vector.get("vector_weight", 0.7)),
            keyword_weight=float(keyword.get("keyword_weight", 0.3)),
            embedding_provider_name=str(vector.get("embedding_provider_name") or ""),
            embedding_model_name=str(vector.get("embedding_model_name") or ""),
        )
    top_k = config.get("top_k", 4)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise KnowledgeInputError(f"top_k must be a whole number of at least 1, not {top_k!r}", f"{path}.top_k")
    threshold = config.get("score_threshold")
    mode = config.get("reranking_mode") or "reranking_model"
    enabled = bool(config.get("reranking_enable", False))
    if enabled and mode == "reranking_model" and reranking_model is None:
        raise KnowledgeInputError("reranking is on, but no rerank model is given", f"{path}.reranking_model")
    method = _search_method(datasets)
    if enabled and mode == "weighted_score":
        # Weighted Score merges a semantic and a keyword score (KB-RET-HYBRID): both searches run.
        method = "hybrid_search"
    return RetrievalSettings(
        search_method=method,
        reranking_enable=enabled,
        reranking_model=reranking_model,
        reranking_mode="weighted_score" if mode == "weighted_score" else "reranking_model",
        top_k=top_k,
        score_threshold_enabled=threshold is not None,
        score_threshold=float(threshold) if threshold is not None else 0.0,
        weights=weights,
    )


class AppRetrieval:
    """Serves ``retrieve_knowledge`` (the kernel's :class:`~treadle.plugins.kernel_services.KnowledgeService`)."""

    def __init__(self, db: Database, retriever: Retriever, kernels: KernelClients) -> None:
        self.db = db
        self.retriever = retriever
        self.kernels = kernels

    async def _datasets(self, tenant_id: str, dataset_ids: Sequence[str]) -> list[Dataset]:
        """The workspace's datasets among ``dataset_ids``, in the order given."""
        async with self.db.session() as session:
            rows = (
                await session.scalars(select(Dataset).where(Dataset.tenant_id == tenant_id,
                                                            Dataset.id.in_(list(dataset_ids))))
            ).all()
            for row in rows:
                session.expunge(row)
        order = {dataset_id: i for i, dataset_id in enumerate(dataset_ids)}
        return sorted(rows, key=lambda d: order[d.id])

    async def retrieve(self, tenant_id: str, query: KnowledgeQuery, *, depth: int) -> list[dict[str, Any]]:
        """The chunks found for ``query`` in the workspace ``tenant_id``, as citation objects. A
        setting or model the knowledge bases cannot be searched with fails with
        :class:`~treadle_sdk.errors.PluginInvalidArgument` saying what (``details.field``, ``code``)."""
        try:
            return await self._retrieve(tenant_id, query, depth=depth)
        except KnowledgeError as exc:
            details = {"code": exc.code, "error_type": "KnowledgeRetrievalNodeError"}
            if isinstance(exc, KnowledgeInputError) and exc.field:
                details["field"] = exc.field
            raise PluginInvalidArgument(exc.message, details=details) from exc

    async def _retrieve(self, tenant_id: str, query: KnowledgeQuery, *, depth: int) -> list[dict[str, Any]]:
        datasets = await self._datasets(tenant_id, query.dataset_ids)
        if not datasets:
            return []
        settings: RetrievalSettings | None = None
        if query.retrieval_mode == "single":
            picked = await self._pick(tenant_id, datasets, query, depth=depth)
            if picked is None:
                return []
            datasets = [picked]  # searched with its own settings
        else:
            settings = node_settings(datasets, query.multiple_retrieval_config)
        chunks = await self.retriever.retrieve(
            tenant_id,
            [d.id for d in datasets],
            query.query,
            settings,
            metadata_condition=await self._metadata(tenant_id, datasets, query, depth=depth),
            source="app",
            app_id=query.app_id,
            # The query log keeps end users by their row id; a plugin knows only the session's
            # user string (``sys.user_id``), so the record names the app and not the user.
            created_by=None,
            created_by_role="end_user",
        )
        return [chunk.as_retriever_resource(position, query.retriever_from)
                for position, chunk in enumerate(chunks, start=1)]

    async def _metadata(self, tenant_id: str, datasets: Sequence[Dataset], query: KnowledgeQuery, *, depth: int
                        ) -> MetadataFilter | None:
        """The metadata filter of the query (KB-META-FILTER): the manual conditions, or those the
        automatic mode's model derives over the fields the datasets share (none: no filter)."""
        if query.metadata_filtering_mode == "manual":
            return MetadataFilter.parse(query.metadata_filtering_conditions, field="metadata_filtering_conditions")
        if query.metadata_filtering_mode != "automatic":
            return None
        model = dict(query.metadata_model_config or {})
        provider, name = model.get("provider"), model.get("name")
        if not isinstance(provider, str) or not isinstance(name, str) or not provider or not name:
            raise KnowledgeInputError("automatic metadata filtering needs its model", "metadata_model_config")
        fields = await shared_fields(self.db, [d.id for d in datasets])
        with self.kernels.kernel_client(tenant_id=tenant_id, depth=depth) as kernel:
            return await conditions_from_query(
                kernel, provider, name, query.query, fields, model_parameters=model.get("completion_params")
            )

    async def _pick(self, tenant_id: str, datasets: list[Dataset], query: KnowledgeQuery, *, depth: int
                    ) -> Dataset | None:
        """The knowledge base the single-retrieval model picks (the only one, when there is one)."""
        if len(datasets) == 1:
            return datasets[0]
        model = dict((query.single_retrieval_config or {}).get("model") or {})
        provider, name = model.get("provider"), model.get("name")
        if not isinstance(provider, str) or not isinstance(name, str) or not provider or not name:
            raise KnowledgeInputError("single retrieval needs the model that picks the knowledge base",
                                      "single_retrieval_config.model")
        tools = [
            PromptMessageTool(
                name=d.id,
                description=d.description or f"useful for when you want to answer queries about the {d.name}",
                parameters={"type": "object", "properties": {}, "required": []},
            )
            for d in datasets
        ]
        messages = [
            PromptMessage(role=PromptMessageRole.SYSTEM, content=[TextContent(data=_ROUTER_SYSTEM)]),
            PromptMessage(role=PromptMessageRole.USER, content=[TextContent(data=query.query)]),
        ]
        # The node's own parameters, with the router's sampling over them (as Dify asks).
        given = model.get("completion_params")
        parameters = {k: v for k, v in (given.items() if isinstance(given, Mapping) else ()) if k != "stop"}
        parameters.update(_ROUTER_PARAMETERS)
        called: list[str] = []
        with self.kernels.kernel_client(tenant_id=tenant_id, depth=depth) as kernel:
            async for chunk in kernel.ainvoke_llm(
                provider, name, messages, model_parameters=parameters, tools=tools, stream=False,
                user=query.user_id,
            ):
                called.extend(call.function.name for call in chunk.delta.message.tool_calls)
        by_id = {d.id: d for d in datasets}
        return next((by_id[name] for name in called if name in by_id), None)
