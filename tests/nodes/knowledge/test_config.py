"""The Knowledge Retrieval node's DSL, read as Dify writes it (NODE-KNOWLEDGE-RETRIEVAL): multiple and
single retrieval, metadata filtering (KB-META-FILTER), and errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from treadle_knowledge_nodes import KnowledgeRetrievalNodeType, parse_retrieval_config
from treadle_sdk.nodes import NodeConfigError

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "dify-dsl"

MODEL = {"provider": "openai", "name": "gpt-4o", "mode": "chat", "completion_params": {"temperature": 0.7}}


def node(**data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "knowledge-retrieval",
        "title": "Knowledge",
        "dataset_ids": ["ds-1", "ds-2"],
        "query_variable_selector": ["start", "query"],
        "retrieval_mode": "multiple",
        "multiple_retrieval_config": {"top_k": 4, "reranking_enable": False},
    }
    return {**base, **data}


def test_multiple_retrieval_reads_top_k_threshold_and_the_rerank_model() -> None:
    """KB-RET-MULTIPATH: node-level TopK, threshold and rerank model, in Dify's spelling."""
    config = parse_retrieval_config(node(multiple_retrieval_config={
        "top_k": 6,
        "score_threshold": 0.4,
        "reranking_enable": True,
        "reranking_mode": "reranking_model",
        "reranking_model": {"provider": "langgenius/cohere/cohere", "model": "rerank-v3"},
    }))
    assert config.dataset_ids == ("ds-1", "ds-2")
    assert config.query_selector == ("start", "query")
    assert config.retrieval_mode == "multiple"
    assert config.single_model is None
    assert config.multiple == {
        "top_k": 6,
        "score_threshold": 0.4,
        "reranking_enable": True,
        "reranking_mode": "reranking_model",
        "reranking_model": {"provider": "langgenius/cohere/cohere", "model": "rerank-v3"},
        "weights": None,
    }


def test_multiple_retrieval_with_weighted_scores_reads_both_weights() -> None:
    """KB-RET-HYBRID at node level: the semantic and keyword weights (manual-search.yml's shape)."""
    weights = {
        "vector_setting": {"vector_weight": 1, "embedding_provider_name": "openai",
                           "embedding_model_name": "text-embedding-3-large"},
        "keyword_setting": {"keyword_weight": 0},
    }
    config = parse_retrieval_config(node(multiple_retrieval_config={
        "top_k": 4, "reranking_enable": True, "reranking_mode": "weighted_score", "weights": weights,
    }))
    assert config.multiple is not None
    assert config.multiple["reranking_mode"] == "weighted_score"
    assert config.multiple["weights"] == {
        "vector_setting": {"vector_weight": 1.0, "embedding_provider_name": "openai",
                           "embedding_model_name": "text-embedding-3-large"},
        "keyword_setting": {"keyword_weight": 0.0},
    }


def test_single_retrieval_reads_the_model_that_picks() -> None:
    config = parse_retrieval_config(node(retrieval_mode="single", multiple_retrieval_config=None,
                                         single_retrieval_config={"model": MODEL}))
    assert config.retrieval_mode == "single"
    assert config.multiple is None
    assert config.single_model == MODEL


def test_manual_metadata_filtering_keeps_conditions_and_their_variable_references() -> None:
    """KB-META-FILTER, manual: operators as Dify spells them; values may be texts with references,
    numbers, or lists; the node reads the variables they refer to."""
    conditions = {
        "logical_operator": "or",
        "conditions": [
            {"id": "c1", "name": "author", "comparison_operator": "is", "value": "{{#start.author#}}"},
            {"id": "c2", "name": "year", "comparison_operator": "≥", "value": 2020},
            {"id": "c3", "name": "tag", "comparison_operator": "in", "value": ["a", "b"]},
            {"id": "c4", "name": "summary", "comparison_operator": "not empty"},
        ],
    }
    prepared = KnowledgeRetrievalNodeType().prepare(
        "kr", node(metadata_filtering_mode="manual", metadata_filtering_conditions=conditions)
    )
    settings = prepared.settings  # type: ignore[attr-defined]
    assert settings.metadata_mode == "manual"
    assert settings.metadata_filter.logical_operator == "or"
    assert [(c.name, c.comparison_operator, c.value) for c in settings.metadata_filter.conditions] == [
        ("author", "is", "{{#start.author#}}"),
        ("year", "≥", 2020),
        ("tag", "in", ["a", "b"]),
        ("summary", "not empty", None),
    ]
    assert ("start", "author") in prepared.selectors()
    assert ("start", "query") in prepared.selectors()


def test_automatic_metadata_filtering_needs_its_model() -> None:
    config = parse_retrieval_config(node(metadata_filtering_mode="automatic", metadata_model_config=MODEL))
    assert config.metadata_mode == "automatic"
    assert config.metadata_model == MODEL
    assert config.metadata_filter is None
    with pytest.raises(NodeConfigError) as caught:
        parse_retrieval_config(node(metadata_filtering_mode="automatic"))
    assert caught.value.path == "metadata_model_config"


def test_disabled_metadata_filtering_ignores_leftover_conditions() -> None:
    """Dify keeps the conditions in the DSL when filtering is switched off; they do not apply."""
    config = parse_retrieval_config(node(
        metadata_filtering_mode="disabled",
        metadata_filtering_conditions={"conditions": [{"name": "x", "comparison_operator": "is", "value": "y"}]},
    ))
    assert config.metadata_mode == "disabled"
    assert config.metadata_filter is None


def test_the_oldest_exports_name_sys_query_under_the_start_node() -> None:
    """``[start_id, "sys.query"]`` (audit-workplan-focus.yml) reads the system variable."""
    config = parse_retrieval_config(node(query_variable_selector=["1763978629883", "sys.query"]))
    assert config.query_selector == ("sys", "query")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"dataset_ids": "ds-1"}, "dataset_ids"),
        ({"dataset_ids": ["ds-1", ""]}, "dataset_ids[1]"),
        ({"retrieval_mode": "all"}, "retrieval_mode"),
        ({"multiple_retrieval_config": None}, "multiple_retrieval_config"),
        ({"multiple_retrieval_config": {"top_k": 0}}, "multiple_retrieval_config.top_k"),
        ({"multiple_retrieval_config": {"top_k": 3, "score_threshold": 2}},
         "multiple_retrieval_config.score_threshold"),
        ({"multiple_retrieval_config": {"top_k": 3, "reranking_enable": True}},
         "multiple_retrieval_config.reranking_model"),
        ({"multiple_retrieval_config": {"top_k": 3, "reranking_enable": True, "reranking_mode": "weighted_score"}},
         "multiple_retrieval_config.weights"),
        ({"retrieval_mode": "single", "single_retrieval_config": {}}, "single_retrieval_config.model"),
        ({"retrieval_mode": "single", "single_retrieval_config": {"model": {"provider": "openai"}}},
         "single_retrieval_config.model.name"),
        ({"metadata_filtering_mode": "sometimes"}, "metadata_filtering_mode"),
        ({"metadata_filtering_mode": "manual", "metadata_filtering_conditions": {"logical_operator": "xor"}},
         "metadata_filtering_conditions.logical_operator"),
        ({"metadata_filtering_mode": "manual",
          "metadata_filtering_conditions": {"conditions": [{"name": "a", "comparison_operator": "like"}]}},
         "metadata_filtering_conditions.conditions[0].comparison_operator"),
        ({"metadata_filtering_mode": "manual",
          "metadata_filtering_conditions": {"conditions": [{"comparison_operator": "is"}]}},
         "metadata_filtering_conditions.conditions[0].name"),
        ({"metadata_filtering_mode": "manual",
          "metadata_filtering_conditions": {"conditions": [{"name": "a", "comparison_operator": "is",
                                                            "value": {"x": 1}}]}},
         "metadata_filtering_conditions.conditions[0].value"),
        ({"query_variable_selector": ["only-one"]}, "query_variable_selector"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        KnowledgeRetrievalNodeType().prepare("kr", node(**data))
    assert caught.value.path == path


def _corpus_nodes() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in ("manual-search.yml", "audit-workplan-focus.yml"):
        path = CORPUS / name
        if not path.exists():
            continue
        document = yaml.safe_load(path.read_text())
        for entry in document["workflow"]["graph"]["nodes"]:
            if entry["data"].get("type") == "knowledge-retrieval":
                found.append((f"{name}:{entry['id']}", entry["data"]))
    return found


@pytest.mark.parametrize(("where", "data"), _corpus_nodes(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_knowledge_node_of_the_corpus_is_read(where: str, data: dict[str, Any]) -> None:
    """The public DSL files' Knowledge Retrieval nodes prepare as they are."""
    config = parse_retrieval_config(data)
    assert config.dataset_ids and config.retrieval_mode == "multiple"
    assert config.multiple is not None and config.multiple["top_k"] == 4
