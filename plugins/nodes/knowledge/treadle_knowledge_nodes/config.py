"""A Knowledge Retrieval node's DSL ``data``, read and checked once (NODE-KNOWLEDGE-RETRIEVAL).

Dify writes::

    dataset_ids: [id, ...]
    query_variable_selector: [node_id, variable]
    retrieval_mode: multiple | single
    multiple_retrieval_config:            # multiple
      top_k: 4
      score_threshold: 0.5 | null
      reranking_enable: true
      reranking_mode: reranking_model | weighted_score
      reranking_model: {provider, model}
      weights: {vector_setting: {vector_weight, embedding_provider_name, embedding_model_name},
                keyword_setting: {keyword_weight}}
    single_retrieval_config:              # single
      model: {provider, name, mode, completion_params}
    metadata_filtering_mode: disabled | automatic | manual
    metadata_model_config: {provider, name, mode, completion_params}   # automatic
    metadata_filtering_conditions:                                     # manual
      logical_operator: and | or
      conditions: [{name, comparison_operator, value}]

Every error is a :class:`~treadle_sdk.nodes.NodeConfigError` naming the field. The checked settings
travel to the kernel (:class:`~treadle_sdk.knowledge.KnowledgeQuery`) in the same shape, defaults
filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import choice, flag, integer, items, mapping, parse_optional_selector, text
from treadle_sdk.llm import ModelConfig
from treadle_sdk.nodes import NodeConfigError
from treadle_sdk.templates import Selector, find_selectors

__all__ = ["COMPARISON_OPERATORS", "MetadataCondition", "MetadataFilter", "RetrievalConfig", "parse_retrieval_config"]

#: KB-META-FILTER operators, as Dify spells them: strings and arrays, numbers, times.
COMPARISON_OPERATORS = frozenset(
    {
        "contains",
        "not contains",
        "start with",
        "end with",
        "is",
        "is not",
        "empty",
        "not empty",
        "in",
        "not in",
        "=",
        "≠",
        "<",
        ">",
        "≤",
        "≥",
        "before",
        "after",
    }
)


def _model(value: Any, path: str) -> dict[str, Any]:
    model = ModelConfig.parse(value, path)
    return {"provider": model.provider, "name": model.name, "mode": model.mode,
            "completion_params": model.completion_params}


def _number(value: Any, path: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NodeConfigError(f"must be a number, not {value!r}", path)
    if not low <= value <= high:
        raise NodeConfigError(f"must be between {low:g} and {high:g}, not {value:g}", path)
    return float(value)


def _weights(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    raw = mapping(value, path)
    vector = mapping(raw.get("vector_setting"), f"{path}.vector_setting")
    keyword = mapping(raw.get("keyword_setting"), f"{path}.keyword_setting")
    return {
        "vector_setting": {
            "vector_weight": _number(vector.get("vector_weight", 0.7), f"{path}.vector_setting.vector_weight",
                                     low=0, high=1),
            "embedding_provider_name": text(vector.get("embedding_provider_name"),
                                            f"{path}.vector_setting.embedding_provider_name"),
            "embedding_model_name": text(vector.get("embedding_model_name"),
                                         f"{path}.vector_setting.embedding_model_name"),
        },
        "keyword_setting": {
            "keyword_weight": _number(keyword.get("keyword_weight", 0.3), f"{path}.keyword_setting.keyword_weight",
                                      low=0, high=1),
        },
    }


def _multiple(value: Any) -> dict[str, Any]:
    path = "multiple_retrieval_config"
    if value is None:
        raise NodeConfigError("is required when retrieval_mode is multiple", path)
    raw = mapping(value, path)
    threshold = raw.get("score_threshold")
    config: dict[str, Any] = {
        "top_k": integer(raw.get("top_k"), f"{path}.top_k", 4, minimum=1),
        "score_threshold": None if threshold is None else _number(threshold, f"{path}.score_threshold", low=0, high=1),
        "reranking_enable": flag(raw.get("reranking_enable"), f"{path}.reranking_enable", True),
        "reranking_mode": choice(raw.get("reranking_mode"), f"{path}.reranking_mode",
                                 ("reranking_model", "weighted_score"), "reranking_model"),
        "reranking_model": None,
        "weights": _weights(raw.get("weights"), f"{path}.weights"),
    }
    model = raw.get("reranking_model")
    if model is not None:
        model = mapping(model, f"{path}.reranking_model")
        provider = text(model.get("provider"), f"{path}.reranking_model.provider")
        name = text(model.get("model"), f"{path}.reranking_model.model")
        config["reranking_model"] = {"provider": provider, "model": name} if provider and name else None
    if config["reranking_enable"]:
        if config["reranking_mode"] == "reranking_model" and config["reranking_model"] is None:
            raise NodeConfigError(
                "reranking is on with a rerank model, so a rerank model {provider, model} is required",
                f"{path}.reranking_model",
            )
        if config["reranking_mode"] == "weighted_score" and config["weights"] is None:
            raise NodeConfigError("reranking is on with weighted scores, so weights are required", f"{path}.weights")
    return config


@dataclass(frozen=True, slots=True)
class MetadataCondition:
    """One manual metadata condition; a text ``value`` may hold ``{{#node.var#}}`` references."""

    name: str
    comparison_operator: str
    value: Any


@dataclass(frozen=True, slots=True)
class MetadataFilter:
    """Manual metadata filtering: conditions joined with ``and`` or ``or``."""

    logical_operator: str
    conditions: tuple[MetadataCondition, ...]


def _value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise NodeConfigError(f"must be a text, a number or a list of texts, not {type(value).__name__}", path)


def _conditions(value: Any) -> MetadataFilter:
    path = "metadata_filtering_conditions"
    raw = mapping(value, path)
    operator = choice(raw.get("logical_operator"), f"{path}.logical_operator", ("and", "or"), "and")
    found = []
    for i, item in enumerate(items(raw.get("conditions"), f"{path}.conditions")):
        where = f"{path}.conditions[{i}]"
        entry = mapping(item, where)
        name = text(entry.get("name"), f"{where}.name")
        if not name:
            raise NodeConfigError("a condition needs the metadata field's name", f"{where}.name")
        comparison = entry.get("comparison_operator")
        if comparison not in COMPARISON_OPERATORS:
            listed = ", ".join(sorted(COMPARISON_OPERATORS))
            raise NodeConfigError(f"must be one of {listed}, not {comparison!r}", f"{where}.comparison_operator")
        found.append(MetadataCondition(name, str(comparison), _value(entry.get("value"), f"{where}.value")))
    return MetadataFilter(operator, tuple(found))


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """The node's settings, checked (see the module docstring)."""

    dataset_ids: tuple[str, ...]
    query_selector: Selector | None
    retrieval_mode: str
    multiple: dict[str, Any] | None
    single_model: dict[str, Any] | None
    metadata_mode: str
    metadata_model: dict[str, Any] | None
    metadata_filter: MetadataFilter | None

    def condition_selectors(self) -> list[Selector]:
        """Variables the manual conditions' values refer to."""
        if self.metadata_filter is None:
            return []
        return [s for c in self.metadata_filter.conditions for s in find_selectors(c.value)]


def _query_selector(value: Any) -> Selector | None:
    selector = parse_optional_selector(value, "query_variable_selector")
    if selector is not None and len(selector) == 2 and selector[1].startswith("sys."):
        # Dify's oldest exports name system variables under the start node: [start_id, "sys.query"].
        return ("sys", selector[1][len("sys."):])
    return selector


def parse_retrieval_config(data: Mapping[str, Any]) -> RetrievalConfig:
    """Read a node's DSL ``data``; raises :class:`NodeConfigError` naming the field that is wrong."""
    dataset_ids = []
    for i, item in enumerate(items(data.get("dataset_ids"), "dataset_ids")):
        if not isinstance(item, str) or not item:
            raise NodeConfigError(f"a knowledge base id must be a non-empty text, not {item!r}", f"dataset_ids[{i}]")
        dataset_ids.append(item)
    mode = choice(data.get("retrieval_mode"), "retrieval_mode", ("single", "multiple"), "multiple")
    multiple = _multiple(data.get("multiple_retrieval_config")) if mode == "multiple" else None
    single_model = None
    if mode == "single":
        single = mapping(data.get("single_retrieval_config"), "single_retrieval_config")
        single_model = _model(single.get("model"), "single_retrieval_config.model")
    metadata_mode = choice(data.get("metadata_filtering_mode"), "metadata_filtering_mode",
                           ("disabled", "automatic", "manual"), "disabled")
    metadata_model = None
    metadata_filter = None
    if metadata_mode == "automatic":
        metadata_model = _model(data.get("metadata_model_config"), "metadata_model_config")
    elif metadata_mode == "manual":
        metadata_filter = _conditions(data.get("metadata_filtering_conditions"))
    return RetrievalConfig(
        dataset_ids=tuple(dict.fromkeys(dataset_ids)),
        query_selector=_query_selector(data.get("query_variable_selector")),
        retrieval_mode=mode,
        multiple=multiple,
        single_model=single_model,
        metadata_mode=metadata_mode,
        metadata_model=metadata_model,
        metadata_filter=metadata_filter,
    )
