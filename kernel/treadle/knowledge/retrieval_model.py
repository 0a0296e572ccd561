"""Retrieval settings (RETRIEVAL-MODEL): how a dataset, an app or a hit test searches.

The API takes and shows them in Dify's shape::

    {"search_method": "hybrid_search", "reranking_enable": false,
     "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
     "reranking_mode": "weighted_score", "top_k": 3, "score_threshold_enabled": false,
     "score_threshold": 0.5,
     "weights": {"weight_type": "customized",
                 "vector_setting": {"vector_weight": 0.7, "embedding_provider_name": "", "embedding_model_name": ""},
                 "keyword_setting": {"keyword_weight": 0.3}}}

:meth:`RetrievalSettings.parse` reads that shape (every field optional; the defaults are the
product's: semantic search, TopK 3, threshold 0.5 switched off, KB-RET-VECTOR) and refuses what it
cannot use with :class:`~treadle.knowledge.errors.KnowledgeInputError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from .errors import KnowledgeInputError

__all__ = [
    "DEFAULT_KEYWORD_WEIGHT",
    "DEFAULT_SCORE_THRESHOLD",
    "DEFAULT_TOP_K",
    "DEFAULT_VECTOR_WEIGHT",
    "RERANKING_MODES",
    "SEARCH_METHODS",
    "TOP_K_MAX_VALUE",
    "RerankingModel",
    "RetrievalSettings",
    "ScoreWeights",
    "SearchMethod",
]

SearchMethod = Literal["keyword_search", "semantic_search", "full_text_search", "hybrid_search"]
RerankingMode = Literal["reranking_model", "weighted_score"]
WeightType = Literal["semantic_first", "keyword_first", "customized"]

SEARCH_METHODS: tuple[SearchMethod, ...] = ("keyword_search", "semantic_search", "full_text_search", "hybrid_search")
RERANKING_MODES: tuple[RerankingMode, ...] = ("reranking_model", "weighted_score")
_WEIGHT_TYPES: tuple[WeightType, ...] = ("semantic_first", "keyword_first", "customized")

DEFAULT_TOP_K = 3
#: Dify's ``TOP_K_MAX_VALUE``: the most chunks one retrieval returns.
TOP_K_MAX_VALUE = 10
DEFAULT_SCORE_THRESHOLD = 0.5
DEFAULT_VECTOR_WEIGHT = 0.7
DEFAULT_KEYWORD_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class RerankingModel:
    """The rerank model (KB-RET-RERANK): a provider and one of its rerank models."""

    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Weighted Score of hybrid search (KB-RET-HYBRID): how much the semantic and the keyword score
    count. The two are relative: :meth:`normalised` scales them to add up to 1."""

    vector_weight: float = DEFAULT_VECTOR_WEIGHT
    keyword_weight: float = DEFAULT_KEYWORD_WEIGHT
    weight_type: WeightType = "customized"
    embedding_provider_name: str = ""
    embedding_model_name: str = ""

    def normalised(self) -> tuple[float, float]:
        """``(vector, keyword)`` weights adding up to 1 (the defaults when both are 0)."""
        total = self.vector_weight + self.keyword_weight
        if total <= 0:
            return DEFAULT_VECTOR_WEIGHT, DEFAULT_KEYWORD_WEIGHT
        return self.vector_weight / total, self.keyword_weight / total

    def as_dict(self) -> dict[str, Any]:
        return {
            "weight_type": self.weight_type,
            "vector_setting": {
                "vector_weight": self.vector_weight,
                "embedding_provider_name": self.embedding_provider_name,
                "embedding_model_name": self.embedding_model_name,
            },
            "keyword_setting": {"keyword_weight": self.keyword_weight},
        }


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    """How to search (RETRIEVAL-MODEL, KB-RET-*): method, reranking, TopK and score threshold."""

    search_method: SearchMethod = "semantic_search"
    reranking_enable: bool = False
    reranking_model: RerankingModel | None = None
    reranking_mode: RerankingMode = "reranking_model"
    top_k: int = DEFAULT_TOP_K
    score_threshold_enabled: bool = False
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    weights: ScoreWeights | None = None

    @property
    def threshold(self) -> float | None:
        """The score threshold in force, or None when it is switched off."""
        return self.score_threshold if self.score_threshold_enabled else None

    @property
    def uses_rerank_model(self) -> bool:
        """Whether results are re-ordered by the rerank model (rather than by their own scores)."""
        return (
            self.reranking_enable and self.reranking_model is not None
            and (self.reranking_mode == "reranking_model" or self.search_method != "hybrid_search")
        )  # fmt: skip

    @property
    def hybrid_weights(self) -> tuple[float, float]:
        """``(vector, keyword)`` weights of a hybrid search merged by Weighted Score."""
        return (self.weights or ScoreWeights()).normalised()

    def with_limits(self, *, top_k: int | None = None, score_threshold: float | None = None) -> RetrievalSettings:
        """These settings with another TopK and/or threshold (an external caller's; 0 switches it off)."""
        changed = self
        if top_k is not None:
            changed = replace(changed, top_k=top_k)
        if score_threshold is not None:
            changed = replace(changed, score_threshold_enabled=score_threshold > 0, score_threshold=score_threshold)
        return changed

    def as_dict(self) -> dict[str, Any]:
        """The settings in the API's shape (``retrieval_model_dict``)."""
        return {
            "search_method": self.search_method,
            "reranking_enable": self.reranking_enable,
            "reranking_model": {
                "reranking_provider_name": self.reranking_model.provider if self.reranking_model else "",
                "reranking_model_name": self.reranking_model.model if self.reranking_model else "",
            },
            "reranking_mode": self.reranking_mode,
            "top_k": self.top_k,
            "score_threshold_enabled": self.score_threshold_enabled,
            "score_threshold": self.score_threshold,
            "weights": self.weights.as_dict() if self.weights is not None else None,
        }

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None, *, field: str = "retrieval_model") -> RetrievalSettings:
        """Settings from the API's shape; None or ``{}`` gives the defaults. Raises
        :class:`KnowledgeInputError` with ``field`` set to the offending path."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise KnowledgeInputError(f"{field} must be an object, not {type(raw).__name__}", field)
        method = _choice(raw, "search_method", SEARCH_METHODS, "semantic_search", field)
        reranking_enable = _bool(raw, "reranking_enable", False, field)
        reranking_model = _reranking_model(raw.get("reranking_model"), f"{field}.reranking_model")
        mode = _choice(raw, "reranking_mode", RERANKING_MODES, "reranking_model", field)
        if reranking_enable and mode == "reranking_model" and reranking_model is None:
            raise KnowledgeInputError(
                "reranking is enabled but no rerank model is given "
                "(reranking_model.reranking_provider_name and reranking_model_name)",
                f"{field}.reranking_model",
            )
        top_k = _int(raw, "top_k", DEFAULT_TOP_K, field)
        if not 1 <= top_k <= TOP_K_MAX_VALUE:
            raise KnowledgeInputError(f"top_k must be between 1 and {TOP_K_MAX_VALUE}, not {top_k}", f"{field}.top_k")
        threshold_enabled = _bool(raw, "score_threshold_enabled", False, field)
        threshold = _unit(raw.get("score_threshold"), DEFAULT_SCORE_THRESHOLD, f"{field}.score_threshold")
        weights = _weights(raw.get("weights"), f"{field}.weights")
        if method == "hybrid_search" and mode == "weighted_score" and weights is None:
            weights = ScoreWeights()
        return cls(method, reranking_enable, reranking_model, mode, top_k, threshold_enabled, threshold, weights)


# -- field readers --------------------------------------------------------------------------------------


def _choice(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str, field: str) -> Any:
    value = raw.get(key)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise KnowledgeInputError(f"{key} must be one of {', '.join(allowed)}, not {value!r}", f"{field}.{key}")
    return value


def _bool(raw: Mapping[str, Any], key: str, default: bool, field: str) -> bool:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise KnowledgeInputError(f"{key} must be true or false, not {value!r}", f"{field}.{key}")
    return value


def _int(raw: Mapping[str, Any], key: str, default: int, field: str) -> int:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise KnowledgeInputError(f"{key} must be a whole number, not {value!r}", f"{field}.{key}")
    return int(value)


def _unit(value: Any, default: float, field: str) -> float:
    """A number from 0 to 1."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise KnowledgeInputError(f"must be a number from 0 to 1, not {value!r}", field)
    if not 0 <= value <= 1:
        raise KnowledgeInputError(f"must be between 0 and 1, not {value}", field)
    return float(value)


def _text(raw: Mapping[str, Any], key: str, field: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise KnowledgeInputError(f"{key} must be a string, not {value!r}", f"{field}.{key}")
    return value.strip()


def _reranking_model(raw: Any, field: str) -> RerankingModel | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise KnowledgeInputError(f"must be an object, not {type(raw).__name__}", field)
    provider = _text(raw, "reranking_provider_name", field)
    model = _text(raw, "reranking_model_name", field)
    if not provider and not model:
        return None  # Dify sends both empty when reranking is off
    if not provider or not model:
        missing = "reranking_provider_name" if not provider else "reranking_model_name"
        raise KnowledgeInputError(f"{missing} is required with a rerank model", f"{field}.{missing}")
    return RerankingModel(provider, model)


def _weights(raw: Any, field: str) -> ScoreWeights | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise KnowledgeInputError(f"must be an object, not {type(raw).__name__}", field)
    weight_type = _choice(raw, "weight_type", _WEIGHT_TYPES, "customized", field)
    vector = raw.get("vector_setting") or {}
    keyword = raw.get("keyword_setting") or {}
    for name, part in (("vector_setting", vector), ("keyword_setting", keyword)):
        if not isinstance(part, Mapping):
            raise KnowledgeInputError(f"must be an object, not {type(part).__name__}", f"{field}.{name}")
    vector_weight = _unit(vector.get("vector_weight"), DEFAULT_VECTOR_WEIGHT, f"{field}.vector_setting.vector_weight")
    keyword_weight = _unit(
        keyword.get("keyword_weight"), DEFAULT_KEYWORD_WEIGHT, f"{field}.keyword_setting.keyword_weight"
    )
    if vector_weight + keyword_weight <= 0:
        raise KnowledgeInputError("vector_weight and keyword_weight cannot both be 0", field)
    return ScoreWeights(
        vector_weight=vector_weight,
        keyword_weight=keyword_weight,
        weight_type=cast(WeightType, weight_type),
        embedding_provider_name=_text(vector, "embedding_provider_name", f"{field}.vector_setting"),
        embedding_model_name=_text(vector, "embedding_model_name", f"{field}.vector_setting"),
    )
