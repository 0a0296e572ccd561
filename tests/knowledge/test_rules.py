"""Process rules (``process_rule`` of API-DOC-CREATE-TEXT; KB-CHUNK-GENERAL, KB-CHUNK-PARENT-CHILD,
KB-CLEANING): Dify's automatic defaults, custom and hierarchical rules, and errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.knowledge.errors import KnowledgeInputError
from treadle.knowledge.rules import MAX_SEGMENTATION_LENGTH, ChunkPlan, parse_process_rule


def test_automatic_is_difys_automatic_rule() -> None:
    rule = parse_process_rule(None)
    assert rule == parse_process_rule({"mode": "automatic"})
    assert rule.as_dict() == {
        "mode": "automatic",
        "rules": {
            "pre_processing_rules": [
                {"id": "remove_extra_spaces", "enabled": True},
                {"id": "remove_urls_emails", "enabled": False},
                {"id": "remove_stopwords", "enabled": False},
            ],
            "segmentation": {"separator": "\n", "max_tokens": 500, "chunk_overlap": 50},
        },
    }
    assert rule.clean("a   b\n\n\n\nc https://x.example") == "a b\n\nc https://x.example"
    assert rule.split("one\ntwo\n\nthree") == [ChunkPlan("one"), ChunkPlan("two"), ChunkPlan("three")]


def test_automatic_parent_child_defaults() -> None:
    rule = parse_process_rule({"mode": "automatic"}, "hierarchical_model")
    assert rule.hierarchical and rule.parent_mode == "paragraph"
    assert rule.as_dict()["rules"]["segmentation"] == {"separator": "\n\n", "max_tokens": 1024, "chunk_overlap": 0}
    assert rule.as_dict()["rules"]["subchunk_segmentation"] == {"separator": "\n", "max_tokens": 512,
                                                                "chunk_overlap": 0}
    assert rule.split("a\nb\n\nc") == [ChunkPlan("a\nb", ("a", "b")), ChunkPlan("c", ("c",))]


def test_custom_rule_applies_its_cleaning_and_segmentation() -> None:
    rule = parse_process_rule({
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": False},
                                     {"id": "remove_urls_emails", "enabled": True}],
            "segmentation": {"separator": "###", "max_tokens": 10, "chunk_overlap": 0},
        },
    })
    assert rule.clean("see  https://x.example or a@b.example") == "see   or "
    assert rule.split("first###second part here") == [ChunkPlan("first"), ChunkPlan("second"),
                                                       ChunkPlan("part here")]
    # Missing fields take the API's defaults: separator \n, overlap 0; no cleaning rule listed is off.
    bare = parse_process_rule({"mode": "custom", "rules": {"segmentation": {"max_tokens": 100}}})
    assert bare.segmentation.as_dict() == {"separator": "\n", "max_tokens": 100, "chunk_overlap": 0}
    assert not (bare.remove_extra_spaces or bare.remove_urls_emails)
    # "delimiter", as Dify's stored automatic rule spells it, is read too.
    spelled = parse_process_rule({"mode": "custom", "rules": {"segmentation": {"delimiter": "|"}}})
    assert spelled.segmentation.separator == "|"


def test_full_doc_keeps_urls_whatever_the_rule_says() -> None:
    rule = parse_process_rule({"mode": "hierarchical", "rules": {
        "parent_mode": "full-doc", "pre_processing_rules": [{"id": "remove_urls_emails", "enabled": True}],
        "subchunk_segmentation": {"separator": "\n", "max_tokens": 50}}}, "hierarchical_model")
    text = "Read https://x.example\nthen stop"
    assert rule.clean(text) == text
    assert rule.split(text) == [ChunkPlan(text, ("Read https://x.example", "then stop"))]
    assert rule.as_dict()["rules"]["parent_mode"] == "full-doc"


@pytest.mark.parametrize(("raw", "doc_form", "field"), [
    ({"mode": "smart"}, "text_model", "process_rule.mode"),
    ({"mode": "hierarchical"}, "text_model", "process_rule.mode"),
    ({"mode": "custom"}, "hierarchical_model", "process_rule.mode"),
    ({"mode": "custom", "rules": []}, "text_model", "process_rule.rules"),
    ({"mode": "custom", "rules": {"segmentation": {"max_tokens": MAX_SEGMENTATION_LENGTH + 1}}}, "text_model",
     "process_rule.rules.segmentation.max_tokens"),
    ({"mode": "custom", "rules": {"segmentation": {"max_tokens": "500"}}}, "text_model",
     "process_rule.rules.segmentation.max_tokens"),
    ({"mode": "custom", "rules": {"segmentation": {"max_tokens": 50, "chunk_overlap": 50}}}, "text_model",
     "process_rule.rules.segmentation.chunk_overlap"),
    ({"mode": "custom", "rules": {"segmentation": {"separator": 3}}}, "text_model",
     "process_rule.rules.segmentation.separator"),
    ({"mode": "custom", "rules": {"pre_processing_rules": [{"id": "shout", "enabled": True}]}}, "text_model",
     "process_rule.rules.pre_processing_rules[0].id"),
    ({"mode": "custom", "rules": {"pre_processing_rules": [{"id": "remove_stopwords", "enabled": "yes"}]}},
     "text_model", "process_rule.rules.pre_processing_rules[0].enabled"),
    ({"mode": "hierarchical", "rules": {"parent_mode": "chapter"}}, "hierarchical_model",
     "process_rule.rules.parent_mode"),
    ({"mode": "hierarchical", "rules": {"subchunk_segmentation": {"max_tokens": 0}}}, "hierarchical_model",
     "process_rule.rules.subchunk_segmentation.max_tokens"),
])  # fmt: skip
def test_bad_rules_name_the_field(raw: dict[str, Any], doc_form: str, field: str) -> None:
    with pytest.raises(KnowledgeInputError) as caught:
        parse_process_rule(raw, doc_form)
    assert caught.value.field == field and caught.value.code == "invalid_param"
    assert field.rsplit(".", 1)[-1].split("[")[0] in caught.value.message
