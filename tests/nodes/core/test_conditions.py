"""The condition evaluator shared by If/Else, Loop and List Operator (NODE-IFELSE): operator
spellings, values with references, file attributes, and the runtime lookup."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_core_nodes.conditions import (
    OPERATORS,
    ConditionError,
    Expected,
    compare,
    parse_condition,
    parse_operator,
    runtime_lookup,
)
from treadle_core_nodes.files import file_attribute, file_markdown, is_file, normalize_extension
from treadle_sdk.nodes import NodeConfigError

from .support import MemoryRuntime, document, image


def test_every_dify_operator_is_known() -> None:
    """Dify's SupportedComparisonOperator, spelled as its DSL spells them."""
    assert OPERATORS == {
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
        "all of",
        "=",
        "≠",
        ">",
        "<",
        "≥",
        "≤",
        "null",
        "not null",
        "exists",
        "not exists",
    }


@pytest.mark.parametrize(
    ("alias", "operator"), [("starts with", "start with"), ("<=", "≤"), ("is not empty", "not empty")]
)
def test_aliases(alias: str, operator: str) -> None:
    assert parse_operator(alias, "p") == operator


def test_an_unknown_operator_lists_the_known_ones() -> None:
    with pytest.raises(NodeConfigError, match=r"expected one of .*all of") as caught:
        parse_operator("≈", "cases[0].conditions[1].comparison_operator")
    assert caught.value.path == "cases[0].conditions[1].comparison_operator"


@pytest.mark.parametrize(
    ("operator", "actual", "expected", "holds"),
    [
        ("=", 1, 1.0, True),
        ("=", 10**20, "100000000000000000000", True),
        (">", "2.5", "2", True),
        ("<", -1, "-0.5", True),
        ("is", 3, 3, True),
        ("contains", ["1", "2"], 2, True),
        ("in", "ab", "cabd", True),
        ("all of", ["x", "y"], "x", True),
        ("empty", {}, None, True),
    ],
)
def test_compare(operator: str, actual: Any, expected: Any, holds: bool) -> None:
    assert compare(operator, actual, expected) is holds


def test_compare_refuses_values_it_cannot_read() -> None:
    with pytest.raises(ConditionError, match="is not a number"):
        compare(">", 1, "x")
    with pytest.raises(ConditionError, match="needs a number, not dict"):
        compare(">", {"a": 1}, 1)


def test_expected_values_render_references_once_parsed() -> None:
    values = {("a", "b"): 3}
    lookup = values.get
    assert Expected.of("{{#a.b#}} items").resolve(lookup) == "3 items"
    assert Expected.of("{{#missing.var#}}").resolve(lookup) == ""
    assert Expected.of("no {{#refs here").resolve(lookup) == "no {{#refs here"
    assert Expected.of(["{{#a.b#}}"]).resolve(lookup) == ["{{#a.b#}}"]  # list items are constants (as in Dify)


def test_runtime_lookup_reads_missing_variables_as_none() -> None:
    lookup = runtime_lookup(MemoryRuntime({"a.b": {"c": 1}}))
    assert lookup(("a", "b", "c")) == 1
    assert lookup(("a", "b", "x")) is None
    assert lookup(("nope", "x")) is None


def test_a_condition_keeps_its_parts_after_parsing() -> None:
    parsed = parse_condition({"variable_selector": ["s", "f", "size"], "comparison_operator": "≥", "value": "1"}, "p")
    assert (parsed.selector, parsed.attribute, parsed.owner) == (("s", "f", "size"), "size", ("s", "f"))
    keyed = parse_condition({"variable_selector": ["s", "f"], "key": "type", "comparison_operator": "is"}, "p")
    assert (keyed.attribute, keyed.owner) == ("type", ("s", "f"))


# -- files -----------------------------------------------------------------------------------------


def test_files_are_recognised_by_dify_marker_or_shape() -> None:
    assert is_file(image())
    assert is_file({"type": "image", "transfer_method": "remote_url", "url": "u"})
    assert not is_file({"type": "image"})
    assert not is_file("file.png")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("type", "document"),
        ("name", "report.pdf"),
        ("extension", ".pdf"),
        ("mime_type", "application/pdf"),
        ("size", 5000),
        ("transfer_method", "remote_url"),
        ("url", "https://example.com/report.pdf"),
        ("related_id", None),
    ],
)
def test_file_attributes_map_dify_field_names(key: str, value: Any) -> None:
    """VAR-FILE-OBJECT: name, size, type, MIME type, extension, transfer method, url."""
    assert file_attribute(document(), key) == value


def test_extensions_get_a_leading_dot() -> None:
    assert normalize_extension("pdf") == ".pdf"
    assert normalize_extension(".pdf") == ".pdf"
    assert normalize_extension("") == ""
    assert file_attribute({"filename": "a.tar.gz"}, "extension") == ".gz"
    assert file_attribute({"filename": "README"}, "extension") is None


def test_file_markdown() -> None:
    assert file_markdown(image("cat.png")) == "![cat.png](https://files.example/cat.png)"
    assert file_markdown(document("r.pdf")) == "[r.pdf](https://example.com/r.pdf)"
    assert file_markdown({"type": "audio", "transfer_method": "remote_url", "url": "u"}) == "[u](u)"
