"""The List Operator node (NODE-LIST-OPERATOR): filter, extract, sort, limit; first and last record."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_core_nodes.list_operator import ListOperatorError
from treadle_sdk.nodes import NodeConfigError, NodeRunError

from .support import MemoryRuntime, document, image, prepare


def operate(array: Any, variables: dict[str, Any] | None = None, **steps: Any) -> dict[str, Any]:
    node = prepare("list-operator", {"variable": ["start", "list"], **steps})
    return node.run(MemoryRuntime({"start.list": array, **(variables or {})})).outputs


def filter_by(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"enabled": True, "conditions": list(conditions)}


def cond(operator: str, value: Any, key: str = "") -> dict[str, Any]:
    return {"key": key, "comparison_operator": operator, "value": value}


def test_nothing_enabled_passes_the_array_through() -> None:
    assert operate(["a", "b"]) == {"result": ["a", "b"], "first_record": "a", "last_record": "b"}


@pytest.mark.parametrize("empty", [[], None])
def test_an_empty_array_gives_empty_results(empty: Any) -> None:
    assert operate(empty, filter_by=filter_by(cond("is", "a"))) == {
        "result": [],
        "first_record": None,
        "last_record": None,
    }


@pytest.mark.parametrize(
    ("array", "condition", "kept"),
    [
        (["apple", "banana", "cherry"], cond("contains", "an"), ["banana"]),
        (["apple", "banana"], cond("not contains", "an"), ["apple"]),
        (["apple", "banana"], cond("start with", "ap"), ["apple"]),
        (["apple", "banana"], cond("end with", "na"), ["banana"]),
        (["apple", "banana"], cond("is", "apple"), ["apple"]),
        (["apple", "banana"], cond("is not", "apple"), ["banana"]),
        (["a", "b", "c"], cond("in", ["a", "c"]), ["a", "c"]),
        (["a", "b", "c"], cond("not in", ["a", "c"]), ["b"]),
        (["", "x"], cond("empty", ""), [""]),
        (["", "x"], cond("not empty", ""), ["x"]),
        ([1, 5, 10], cond("=", "5"), [5]),
        ([1, 5, 10], cond("≠", "5"), [1, 10]),
        ([1, 5, 10], cond(">", "4"), [5, 10]),
        ([1, 5, 10], cond("<", "5"), [1]),
        ([1, 5, 10], cond("≥", "5"), [5, 10]),
        ([1, 5, 10], cond("≤", "5"), [1, 5]),
        ([1.5, 2.5], cond(">", "2"), [2.5]),
        ([True, False, True], cond("is", True), [True, True]),
        ([True, False], cond("is not", True), [False]),
    ],
)
def test_filters_on_text_numbers_and_booleans(array: list[Any], condition: dict[str, Any], kept: list[Any]) -> None:
    """NODE-LIST-OPERATOR: on scalar arrays, filter by value."""
    assert operate(array, filter_by=filter_by(condition))["result"] == kept


FILES = [
    image("b.png", size=300),
    document("a.pdf", size=5000),
    image("c.jpg", size=100, mime_type="image/jpeg"),
    document("d.docx", size=70, transfer_method="local_file", related_id="u", remote_url=None),
]


@pytest.mark.parametrize(
    ("condition", "names"),
    [
        (cond("in", ["image"], "type"), ["b.png", "c.jpg"]),
        (cond("not in", ["image"], "type"), ["a.pdf", "d.docx"]),
        (cond("is", "pdf", "extension"), ["a.pdf"]),
        (cond("is", ".jpg", "extension"), ["c.jpg"]),
        (cond("in", ["png", "jpg"], "extension"), ["b.png", "c.jpg"]),
        (cond("is", "image/jpeg", "mime_type"), ["c.jpg"]),
        (cond("start with", "application/", "mime_type"), ["a.pdf", "d.docx"]),
        (cond(">", "200", "size"), ["b.png", "a.pdf"]),
        (cond("≤", "100", "size"), ["c.jpg", "d.docx"]),
        (cond("contains", ".p", "name"), ["b.png", "a.pdf"]),
        (cond("in", ["remote_url"], "transfer_method"), ["a.pdf"]),
        (cond("in", ["local_file"], "transfer_method"), ["b.png", "c.jpg", "d.docx"]),
        (cond("contains", "example.com", "url"), ["a.pdf"]),
    ],
)
def test_filters_on_file_attributes(condition: dict[str, Any], names: list[str]) -> None:
    """NODE-LIST-OPERATOR, VAR-FILE-OBJECT: type, MIME type, extension, size, name, transfer method."""
    result = operate(FILES, filter_by=filter_by(condition))["result"]
    assert [f["filename"] for f in result] == names


def test_several_filters_must_all_hold() -> None:
    result = operate(FILES, filter_by=filter_by(cond("in", ["image"], "type"), cond(">", "200", "size")))["result"]
    assert [f["filename"] for f in result] == ["b.png"]


def test_a_filter_value_may_reference_a_variable() -> None:
    result = operate([1, 5, 10], {"start.min": 4}, filter_by=filter_by(cond(">", "{{#start.min#}}")))
    assert result["result"] == [5, 10]


def test_sorting() -> None:
    """NODE-LIST-OPERATOR: ASC or DESC, by a file attribute for files."""
    assert operate([3, 1, 2], order_by={"enabled": True, "key": "", "value": "asc"})["result"] == [1, 2, 3]
    assert operate(["b", "c", "a"], order_by={"enabled": True, "value": "desc"})["result"] == ["c", "b", "a"]
    by_size = operate(FILES, order_by={"enabled": True, "key": "size", "value": "asc"})["result"]
    assert [f["size"] for f in by_size] == [70, 100, 300, 5000]
    by_name = operate(FILES, order_by={"enabled": True, "key": "name", "value": "desc"})["result"]
    assert [f["filename"] for f in by_name] == ["d.docx", "c.jpg", "b.png", "a.pdf"]


def test_files_missing_the_sort_attribute_go_last() -> None:
    files = [image("x.png", size=None), image("y.png", size=5)]
    assert [f["filename"] for f in operate(files, order_by={"enabled": True, "key": "size"})["result"]] == [
        "y.png",
        "x.png",
    ]


def test_limit_keeps_the_first_n() -> None:
    """NODE-LIST-OPERATOR: Take First N, 1 to 20."""
    out = operate(list(range(30)), limit={"enabled": True, "size": 20})
    assert out["result"] == list(range(20))
    assert (out["first_record"], out["last_record"]) == (0, 19)
    assert operate([1, 2], limit={"enabled": True, "size": 5})["result"] == [1, 2]
    assert operate([1, 2, 3], limit={"enabled": False, "size": 1})["result"] == [1, 2, 3]


def test_extract_takes_the_nth_element_counting_from_one() -> None:
    assert operate(["a", "b", "c"], extract_by={"enabled": True, "serial": "2"})["result"] == ["b"]
    out = operate(["a", "b", "c"], {"start.n": 3}, extract_by={"enabled": True, "serial": "{{#start.n#}}"})
    assert out == {"result": ["c"], "first_record": "c", "last_record": "c"}


def test_the_steps_run_filter_extract_sort_limit() -> None:
    """Dify's order: filter, then extract, then sort, then limit."""
    out = operate(
        [5, 1, 9, 3, 7],
        filter_by=filter_by(cond(">", "2")),
        order_by={"enabled": True, "value": "desc"},
        limit={"enabled": True, "size": 2},
    )
    assert out["result"] == [9, 7]
    out = operate([5, 1, 9], extract_by={"enabled": True, "serial": "1"}, order_by={"enabled": True, "value": "asc"})
    assert out["result"] == [5]


def test_the_corpus_shape_splits_images_and_documents() -> None:
    """simple-kimi.yml: one List Operator keeps the images of sys.files, another the first 2 documents."""
    node = prepare(
        "list-operator",
        {
            "filter_by": {
                "conditions": [{"comparison_operator": "in", "key": "type", "value": ["document"]}],
                "enabled": True,
            },
            "item_var_type": "file",
            "limit": {"enabled": True, "size": 2},
            "order_by": {"enabled": False, "key": "", "value": "asc"},
            "var_type": "array[file]",
            "variable": ["sys", "files"],
        },
    )
    out = node.run(MemoryRuntime({"sys.files": [document("1.pdf"), image(), document("2.pdf"), document("3.pdf")]}))
    assert [f["filename"] for f in out.outputs["result"]] == ["1.pdf", "2.pdf"]
    assert out.outputs["last_record"]["filename"] == "2.pdf"


@pytest.mark.parametrize(
    ("array", "steps", "message"),
    [
        ("not a list", {}, "is not an array"),
        (["a"], {"extract_by": {"enabled": True, "serial": "2"}}, "between 1 and 1, not 2"),
        (["a"], {"extract_by": {"enabled": True, "serial": "{{#start.n#}}"}}, "whole number"),
        ([1, "a"], {"order_by": {"enabled": True, "value": "asc"}}, "cannot be sorted"),
        (FILES, {"filter_by": filter_by(cond("is", "x"))}, "needs the file attribute"),
        (FILES, {"order_by": {"enabled": True, "value": "asc"}}, "needs the file attribute"),
        (["a"], {"filter_by": filter_by(cond(">", "1"))}, "not a number"),
    ],
)
def test_run_errors_are_clear(array: Any, steps: dict[str, Any], message: str) -> None:
    with pytest.raises(NodeRunError, match=message):
        operate(array, {"start.n": "two"}, **steps)


def test_a_missing_array_is_an_error() -> None:
    with pytest.raises(ListOperatorError, match=r"start\.list does not exist"):
        prepare("list-operator", {"variable": ["start", "list"]}).run(MemoryRuntime())


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"variable": "start.list"}, "variable"),
        ({"limit": {"enabled": True, "size": 21}}, "limit.size"),
        ({"limit": {"enabled": True, "size": 0}}, "limit.size"),
        ({"extract_by": {"enabled": True, "serial": "0"}}, "extract_by.serial"),
        ({"extract_by": {"enabled": True, "serial": "first"}}, "extract_by.serial"),
        ({"order_by": {"enabled": True, "value": "random"}}, "order_by.value"),
        ({"order_by": {"enabled": True, "key": "colour"}}, "order_by.key"),
        ({"filter_by": filter_by(cond("like", "x"))}, "filter_by.conditions[0].comparison_operator"),
        ({"filter_by": filter_by(cond("is", "x", key="colour"))}, "filter_by.conditions[0].key"),
    ],
)
def test_bad_configurations_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        prepare("list-operator", {"variable": ["start", "list"], **data})
    assert caught.value.path == path
