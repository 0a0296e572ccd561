"""Metadata filtering (KB-META-FILTER, KB-EXT-SPEC operators): parsing Dify's ``metadata_condition``,
every operator over document metadata, built-in fields, the fields datasets share, and automatic
mode through a real (fake provider's scripted) LLM."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.databases import migrated_database
from treadle.config import Settings
from treadle.knowledge.errors import KnowledgeInputError
from treadle.knowledge.metadata_filter import (
    BUILT_IN_FIELDS,
    MetadataField,
    MetadataFilter,
    allowed_documents,
    conditions_from_query,
    shared_fields,
)
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import Database, DatasetMetadataField

from .retrieval_rows import add_dataset, add_document, add_tenant

DOC = {"category": "guide", "title": "Getting started", "year": 2024, "published": 1714521600, "tags": ""}


def where(*conditions: tuple[str, str, Any], logical: str = "and") -> MetadataFilter:
    parsed = MetadataFilter.parse({
        "logical_operator": logical,
        "conditions": [{"name": n, "comparison_operator": op, "value": v} for n, op, v in conditions],
    })  # fmt: skip
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (("category", "is", "guide"), True),
        (("category", "is", "Guide"), False),  # case-sensitive
        (("category", "is not", "faq"), True),
        (("title", "contains", "started"), True),
        (("title", "not contains", "started"), False),
        (("title", "start with", "Getting"), True),
        (("title", "starts with", "started"), False),
        (("title", "end with", "started"), True),
        (("category", "in", ["faq", "guide"]), True),
        (("category", "in", "faq, guide"), True),
        (("category", "not in", ["faq", "guide"]), False),
        (("year", "=", 2024), True),
        (("year", "=", "2024.0"), True),
        (("year", "≠", 2024), False),
        (("year", ">", 2023), True),
        (("year", "<", 2024), False),
        (("year", "≥", 2024), True),
        (("year", "<=", 2023), False),
        (("published", "before", "2024-05-02"), True),
        (("published", "after", "2024-05-01T00:00:00Z"), False),
        (("published", "after", 1714521599), True),
        (("published", "is", "2024-05-01"), True),
        (("tags", "empty", None), True),
        (("tags", "not empty", None), False),
        (("missing", "empty", None), True),
        (("missing", "is not", "x"), False),  # a value that is not there meets nothing but "empty"
        (("missing", "not contains", "x"), False),
        (("missing", "≠", 1), False),
    ],
)
def test_operators(condition: tuple[str, str, Any], expected: bool) -> None:
    assert where(condition).holds(DOC) is expected


def test_and_or() -> None:
    yes, no = ("category", "is", "guide"), ("year", ">", 3000)
    assert where(yes, no).holds(DOC) is False
    assert where(yes, no, logical="or").holds(DOC) is True


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"logical_operator": "xor", "conditions": []}, "metadata_condition.logical_operator"),
        ({"conditions": {"name": "a"}}, "metadata_condition.conditions"),
        ({"conditions": [{"comparison_operator": "is", "value": "x"}]}, "metadata_condition.conditions[0].name"),
        ({"conditions": [{"name": "a", "comparison_operator": "like", "value": "x"}]},
         "metadata_condition.conditions[0].comparison_operator"),
        ({"conditions": [{"name": "a", "comparison_operator": "is"}]}, "metadata_condition.conditions[0].value"),
        ({"conditions": [{"name": "a", "comparison_operator": ">", "value": "big"}]},
         "metadata_condition.conditions[0].value"),
        ({"conditions": [{"name": "a", "comparison_operator": "before", "value": "someday"}]},
         "metadata_condition.conditions[0].value"),
    ],
)  # fmt: skip
def test_bad_conditions_name_their_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(KnowledgeInputError) as caught:
        MetadataFilter.parse(raw)
    assert caught.value.field == field


def test_no_conditions_is_no_filter() -> None:
    assert MetadataFilter.parse(None) is None
    assert MetadataFilter.parse({"logical_operator": "and", "conditions": []}) is None
    round_trip = where(("year", ">=", 1)).as_dict()
    assert round_trip == {"logical_operator": "and",
                          "conditions": [{"name": "year", "comparison_operator": "≥", "value": 1}]}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path) as database:
        yield database


async def test_allowed_documents_over_metadata_and_built_in_fields(db: Database) -> None:
    tenant_id = await add_tenant(db)
    plain = await add_dataset(db, tenant_id, "Plain")
    built_in = await add_dataset(db, tenant_id, "Built-in", built_in_field_enabled=True)
    guide = await add_document(db, plain, "guide.md", ["x"], doc_metadata={"category": "guide"})
    faq = await add_document(db, plain, "faq.md", ["x"], doc_metadata={"category": "faq"})
    bare = await add_document(db, plain, "bare.md", ["x"])
    named = await add_document(db, built_in, "handbook.pdf", ["x"], doc_metadata={"category": "guide"})
    both = [plain.id, built_in.id]

    assert await allowed_documents(db, both, where(("category", "is", "guide"))) == {guide.document_id,
                                                                                        named.document_id}
    assert await allowed_documents(db, both, where(("category", "empty", None))) == {bare.document_id}
    # Built-in fields exist only where the dataset switched them on.
    by_name = where(("document_name", "end with", ".pdf"))
    assert await allowed_documents(db, both, by_name) == {named.document_id}
    assert await allowed_documents(db, both, where(("source", "is", "file_upload"))) == {named.document_id}
    assert await allowed_documents(db, both, where(("upload_date", "after", "2000-01-01"))) == {named.document_id}
    assert await allowed_documents(db, [plain.id], where(("category", "in", "faq,guide"))) == {
        guide.document_id, faq.document_id}  # fmt: skip


async def test_shared_fields(db: Database) -> None:
    tenant_id = await add_tenant(db)
    one = await add_dataset(db, tenant_id, "One", built_in_field_enabled=True)
    two = await add_dataset(db, tenant_id, "Two", built_in_field_enabled=True)
    async with db.session() as s:
        for dataset, fields in ((one, [("category", "string"), ("year", "number"), ("only_one", "string")]),
                                (two, [("category", "string"), ("year", "time")])):  # fmt: skip
            s.add_all(DatasetMetadataField(tenant_id=tenant_id, dataset_id=dataset.id, name=n, type=t)
                      for n, t in fields)  # fmt: skip
    assert await shared_fields(db, [one.id, two.id]) == [MetadataField("category", "string"), *BUILT_IN_FIELDS]
    assert await shared_fields(db, [one.id]) == [
        MetadataField("category", "string"), MetadataField("only_one", "string"), MetadataField("year", "number"),
        *BUILT_IN_FIELDS,
    ]  # fmt: skip
    async with db.session() as s:
        row = await s.get(type(two), two.id)
        assert row is not None
        row.built_in_field_enabled = False
    assert await shared_fields(db, [one.id, two.id]) == [MetadataField("category", "string")]


async def test_automatic_mode_asks_the_llm(tmp_path: Path) -> None:
    """KB-META-FILTER automatic: the model's conditions are kept when they name a known field with an
    operator of its type; the others are left out."""
    answer = {"metadata_map": [
        {"metadata_field_name": "category", "metadata_field_value": "guide", "comparison_operator": "is"},
        {"metadata_field_name": "year", "metadata_field_value": "2023", "comparison_operator": ">="},
        {"metadata_field_name": "year", "metadata_field_value": "2023", "comparison_operator": "contains"},
        {"metadata_field_name": "colour", "metadata_field_value": "red", "comparison_operator": "is"},
    ]}  # fmt: skip
    fields = [MetadataField("category", "string"), MetadataField("year", "number")]
    groups = [GroupPlan("inline", True, (PluginSpec("fake"),))]
    async with PluginSupervisor(Settings.load(home=tmp_path), groups=groups) as supervisor:
        with supervisor.kernel_client(tenant_id="t") as kernel:
            script = ["Sure! " + json.dumps(answer)]
            found = await conditions_from_query(kernel, "fake", "script", "guides since 2023", fields,
                                                model_parameters={"script": script})  # fmt: skip
            assert found is not None
            assert found.as_dict()["conditions"] == [
                {"name": "category", "comparison_operator": "is", "value": "guide"},
                {"name": "year", "comparison_operator": "≥", "value": "2023"},
            ]
            nothing = await conditions_from_query(kernel, "fake", "script", "anything", fields,
                                                  model_parameters={"script": ["no idea"]})  # fmt: skip
            assert nothing is None
            assert await conditions_from_query(kernel, "fake", "script", "anything", []) is None
