"""The If/Else node (NODE-IFELSE, EXEC-BRANCH-EXCLUSIVE): every operator on every type, files and
arrays of files, and/or, the case order, the legacy shape and bad configurations."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_core_nodes.conditions import ConditionError
from treadle_sdk.nodes import NodeConfigError

from .support import MemoryRuntime, document, image, prepare


def condition(
    operator: str, value: Any = None, selector: tuple[str, ...] = ("start", "x"), **extra: Any
) -> dict[str, Any]:
    return {"variable_selector": list(selector), "comparison_operator": operator, "value": value, **extra}


def decide(actual: Any, operator: str, expected: Any = None, **extra: Any) -> bool:
    """Whether a one-condition case holds for ``start.x = actual``."""
    node = prepare(
        "if-else",
        {
            "cases": [
                {"case_id": "yes", "logical_operator": "and", "conditions": [condition(operator, expected, **extra)]}
            ]
        },
    )
    result = node.run(MemoryRuntime({"start.x": actual}))
    assert result.handle in {"yes", "false"}
    return result.handle == "yes"


# -- the operator matrix ------------------------------------------------------------------------

STRING_CASES = [
    ("hello world", "contains", "world", True),
    ("hello", "contains", "xyz", False),
    ("", "contains", "a", False),
    ("hello", "not contains", "xyz", True),
    ("hello", "not contains", "ell", False),
    ("", "not contains", "a", True),
    ("hello", "start with", "he", True),
    ("hello", "start with", "lo", False),
    ("", "start with", "", False),
    ("hello", "end with", "lo", True),
    ("hello", "end with", "he", False),
    ("abc", "is", "abc", True),
    ("abc", "is", "ab", False),
    ("abc", "is not", "ab", True),
    ("abc", "is not", "abc", False),
    (None, "is", "abc", False),
    (None, "is not", "abc", False),
    ("", "empty", None, True),
    ("a", "empty", None, False),
    (None, "empty", None, True),
    ("a", "not empty", None, True),
    ("", "not empty", None, False),
    ("b", "in", ["a", "b"], True),
    ("c", "in", ["a", "b"], False),
    ("c", "not in", ["a", "b"], True),
    ("a", "not in", ["a", "b"], False),
    ("a b c", "all of", ["a", "c"], True),
    ("a b", "all of", ["a", "z"], False),
    ("x", "null", None, False),
    (None, "null", None, True),
    ("x", "not null", None, True),
    (None, "not null", None, False),
    ("x", "exists", None, True),
    (None, "exists", None, False),
    (None, "not exists", None, True),
    ("x", "not exists", None, False),
    ("5", "=", "5", True),  # a numeric string compares as its number
    ("10", ">", "9", True),
    ("开始游戏", "contains", "开始", True),
]

NUMBER_CASES = [
    (5, "=", "5", True),
    (5, "=", "6", False),
    (5, "≠", "6", True),
    (5, "≠", "5", False),
    (5, ">", "4", True),
    (5, ">", "5", False),
    (5, "<", "6", True),
    (5, "<", "5", False),
    (5, "≥", "5", True),
    (5, "≥", "6", False),
    (5, "≤", "5", True),
    (5, "≤", "4", False),
    (2.5, ">", "2.4", True),
    (2, "=", "2.0", True),
    (3, "<", 3.5, True),
    (-1, "=", "-1", True),
    (10**20, ">", "99999999999999999999", True),
    (None, ">", "1", False),
    (None, "=", "1", False),
    (None, "≠", "1", False),
    (0, "empty", None, True),
    (7, "empty", None, False),
    (7, "not empty", None, True),
    (None, "null", None, True),
    (0, "null", None, False),
    (0, "not null", None, True),
    (0, "exists", None, True),
    (None, "not exists", None, True),
    (5, "is", "5", True),
    (5, "is not", "5", False),
    (2, "in", ["1", "2"], True),
    (3, "in", ["1", "2"], False),
    (3, "not in", ["1", "2"], True),
]

BOOLEAN_CASES = [
    (True, "is", "true", True),
    (False, "is", "true", False),
    (False, "is", "false", True),
    (True, "is", True, True),
    (True, "is not", "false", True),
    (True, "is not", "true", False),
    (True, "=", "1", True),
    (False, "=", "0", True),
    (True, "≠", "true", False),
    (False, "empty", None, True),
    (True, "not empty", None, True),
    (True, "exists", None, True),
    (None, "null", None, True),
    (False, "not null", None, True),
]

ARRAY_CASES = [
    (["a", "b"], "contains", "b", True),
    (["a"], "contains", "b", False),
    ([], "contains", "a", False),
    (["a"], "not contains", "b", True),
    (["a", "b"], "not contains", "b", False),
    ([], "not contains", "a", True),
    (["a", "b", "c"], "all of", ["a", "c"], True),
    (["a"], "all of", ["a", "c"], False),
    ([], "all of", ["a"], False),
    ([], "empty", None, True),
    (["a"], "empty", None, False),
    (["a"], "not empty", None, True),
    ([], "not empty", None, False),
    (["a"], "exists", None, True),
    (None, "not exists", None, True),
    ([1, 2, 3], "contains", "2", True),  # array[number]: the value is written as text in the DSL
    ([1, 2], "contains", "5", False),
    ([1, 2, 3], "not contains", "4", True),
    ([1, 2, 3], "all of", ["1", "3"], True),
    ([True, False], "contains", "true", True),  # array[boolean]
    ([False], "contains", "true", False),
    ([{"a": 1}], "not empty", None, True),  # array[object]
    ([{"a": 1}], "contains", {"a": 1}, True),
]

OBJECT_CASES = [
    ({}, "empty", None, True),
    ({"a": 1}, "empty", None, False),
    ({"a": 1}, "not empty", None, True),
    ({"a": 1}, "exists", None, True),
    (None, "null", None, True),
]


@pytest.mark.parametrize(("actual", "operator", "expected", "holds"), STRING_CASES)
def test_string_operators(actual: Any, operator: str, expected: Any, holds: bool) -> None:
    """NODE-IFELSE: contains, starts/ends with, is, empty, in, all of, null, exists on text."""
    assert decide(actual, operator, expected, varType="string") is holds


@pytest.mark.parametrize(("actual", "operator", "expected", "holds"), NUMBER_CASES)
def test_number_operators(actual: Any, operator: str, expected: Any, holds: bool) -> None:
    """NODE-IFELSE: numbers use =, ≠, >, <, ≥, ≤ with the value written as text or as a number."""
    assert decide(actual, operator, expected, varType="number") is holds


@pytest.mark.parametrize(("actual", "operator", "expected", "holds"), BOOLEAN_CASES)
def test_boolean_operators(actual: Any, operator: str, expected: Any, holds: bool) -> None:
    """NODE-IFELSE: booleans compare with the value read as true/false."""
    assert decide(actual, operator, expected, varType="boolean") is holds


@pytest.mark.parametrize(("actual", "operator", "expected", "holds"), ARRAY_CASES)
def test_array_operators(actual: Any, operator: str, expected: Any, holds: bool) -> None:
    """NODE-IFELSE: "Conditions can test array variables, e.g. contains on an array[string]"."""
    assert decide(actual, operator, expected, varType="array[string]") is holds


@pytest.mark.parametrize(("actual", "operator", "expected", "holds"), OBJECT_CASES)
def test_object_operators(actual: Any, operator: str, expected: Any, holds: bool) -> None:
    assert decide(actual, operator, expected, varType="object") is holds


FILE_CASES = [
    ("type", "is", "image", True),
    ("type", "is", "document", False),
    ("type", "in", ["image", "video"], True),
    ("type", "not in", ["image", "video"], False),
    ("extension", "is", "png", True),  # with or without the dot
    ("extension", "is", ".png", True),
    ("extension", "is not", "pdf", True),
    ("extension", "in", ["png", "jpg"], True),
    ("mime_type", "start with", "image/", True),
    ("mime_type", "is", "application/pdf", False),
    ("size", ">", "500", True),
    ("size", "≤", "500", False),
    ("name", "contains", "cat", True),
    ("name", "end with", ".png", True),
    ("transfer_method", "is", "local_file", True),
    ("transfer_method", "in", ["remote_url"], False),
    ("url", "start with", "https://files.example/", True),
    ("url", "empty", None, False),
]


@pytest.mark.parametrize(("key", "operator", "expected", "holds"), FILE_CASES)
def test_file_attribute_operators(key: str, operator: str, expected: Any, holds: bool) -> None:
    """VAR-FILE-OBJECT: a single file is tested on one attribute, named by the condition's key."""
    assert decide(image("cat.png"), operator, expected, varType="file", key=key) is holds


@pytest.mark.parametrize(("key", "operator", "expected", "holds"), FILE_CASES)
def test_file_attribute_by_selector_path(key: str, operator: str, expected: Any, holds: bool) -> None:
    """The attribute may also be the selector's last part (``[start, file, extension]``)."""
    node = prepare(
        "if-else",
        {"cases": [{"case_id": "yes", "conditions": [condition(operator, expected, selector=("start", "f", key))]}]},
    )
    assert (node.run(MemoryRuntime({"start.f": image("cat.png")})).handle == "yes") is holds


def test_a_file_without_an_extension_takes_it_from_its_name() -> None:
    file = image("photo.jpeg", extension=None)
    assert decide(file, "is", "jpeg", key="extension")


def test_an_object_key_named_like_a_file_attribute_is_read_as_a_key() -> None:
    """``name`` of an object that is not a file is the object's own key."""
    node = prepare(
        "if-else",
        {"cases": [{"case_id": "yes", "conditions": [condition("is", "Ada", selector=("start", "person", "name"))]}]},
    )
    assert node.run(MemoryRuntime({"start.person": {"name": "Ada"}})).handle == "yes"


def files_condition(operator: str, *subs: dict[str, Any], logical: str = "and") -> dict[str, Any]:
    return condition(
        operator,
        "",
        varType="array[file]",
        sub_variable_condition={"case_id": "s", "logical_operator": logical, "conditions": list(subs)},
    )


def sub(key: str, operator: str, value: Any) -> dict[str, Any]:
    return {"key": key, "comparison_operator": operator, "value": value}


def decide_files(files: list[Any], cond: dict[str, Any]) -> bool:
    node = prepare("if-else", {"cases": [{"case_id": "yes", "conditions": [cond]}]})
    return node.run(MemoryRuntime({"start.x": files})).handle == "yes"


ARRAY_FILE_CASES = [
    ([image(), document()], files_condition("contains", sub("type", "in", ["image"])), True),
    ([document()], files_condition("contains", sub("type", "in", ["image"])), False),
    ([], files_condition("contains", sub("type", "in", ["image"])), False),
    ([document()], files_condition("not contains", sub("type", "in", ["image"])), True),
    ([image(), document()], files_condition("not contains", sub("type", "in", ["image"])), False),
    ([], files_condition("not contains", sub("type", "in", ["image"])), True),
    ([image("a.png"), image("b.png")], files_condition("all of", sub("type", "is", "image")), True),
    ([image(), document()], files_condition("all of", sub("type", "is", "image")), False),
    ([image(), document()], files_condition("contains", sub("extension", "is", "pdf")), True),
    ([image()], files_condition("contains", sub("size", ">", "2000")), False),
    ([image(), document()], files_condition("contains", sub("size", ">", "2000")), True),
    ([image()], files_condition("contains", sub("transfer_method", "in", ["local_file"])), True),
    ([image()], files_condition("contains", sub("mime_type", "start with", "image/")), True),
    ([image("cat.png")], files_condition("contains", sub("name", "contains", "cat")), True),
    ([document()], files_condition("contains", sub("url", "contains", "example.com")), True),
    # A negative sub-operator must hold for every file (Dify's rule).
    ([document("a.pdf"), document("b.pdf")], files_condition("contains", sub("type", "not in", ["image"])), True),
    ([image(), document()], files_condition("contains", sub("type", "not in", ["image"])), False),
    # and / or between sub-conditions
    (
        [document()],
        files_condition("contains", sub("type", "in", ["video"]), sub("extension", "is", "pdf"), logical="or"),
        True,
    ),
    ([document()], files_condition("contains", sub("type", "in", ["video"]), sub("extension", "is", "pdf")), False),
    ([], condition("empty", "", varType="array[file]"), True),
    ([image()], condition("not empty", "", varType="array[file]"), True),
]


@pytest.mark.parametrize(("files", "cond", "holds"), ARRAY_FILE_CASES)
def test_array_of_files_with_sub_conditions(files: list[Any], cond: dict[str, Any], holds: bool) -> None:
    """NODE-IFELSE, VAR-FILE-OBJECT: contains / not contains / all of on an array of files test the
    files' attributes (type, extension, mime_type, size, name, transfer_method, url)."""
    assert decide_files(files, cond) is holds


def test_simple_kimi_image_branch_from_the_corpus() -> None:
    """The shape Dify exports (simple-kimi.yml): ``sys.files`` contains an image."""
    node = prepare(
        "if-else",
        {
            "cases": [
                {
                    "case_id": "true",
                    "id": "true",
                    "logical_operator": "and",
                    "conditions": [condition("empty", "", selector=("sys", "files"), varType="array[file]")],
                },
                {
                    "case_id": "img",
                    "logical_operator": "and",
                    "conditions": [
                        {
                            "comparison_operator": "contains",
                            "value": "",
                            "varType": "array[file]",
                            "variable_selector": ["sys", "files"],
                            "sub_variable_condition": {
                                "case_id": "x",
                                "logical_operator": "and",
                                "conditions": [
                                    {
                                        "comparison_operator": "in",
                                        "key": "type",
                                        "value": ["image"],
                                        "varType": "string",
                                    }
                                ],
                            },
                        }
                    ],
                },
            ]
        },
    )
    assert node.run(MemoryRuntime({"sys.files": []})).handle == "true"
    assert node.run(MemoryRuntime({"sys.files": [document(), image()]})).handle == "img"
    assert node.run(MemoryRuntime({"sys.files": [document()]})).handle == "false"


# -- values with references ------------------------------------------------------------------------


def test_a_number_compares_with_a_variable_reference() -> None:
    """The value may be ``{{#node.var#}}`` (numberVarType variable), rendered at run time."""
    node = prepare(
        "if-else",
        {
            "cases": [
                {
                    "case_id": "deep",
                    "conditions": [
                        condition(
                            "≥",
                            "{{#conversation.input_depth#}}",
                            selector=("conversation", "loop_index"),
                            varType="number",
                            numberVarType="variable",
                        )
                    ],
                }
            ]
        },
    )
    assert node.run(MemoryRuntime({"conversation.loop_index": 3, "conversation.input_depth": 3})).handle == "deep"
    assert node.run(MemoryRuntime({"conversation.loop_index": 2, "conversation.input_depth": 3})).handle == "false"


def test_a_text_value_renders_its_references() -> None:
    """math-mistakes-similar-questions.yml compares with ``{{#node.count#}}``."""
    assert decide("3", "is", "{{#llm.count#}}") is False
    node = prepare("if-else", {"cases": [{"case_id": "same", "conditions": [condition("is", "n={{#llm.count#}}")]}]})
    assert node.run(MemoryRuntime({"start.x": "n=3", "llm.count": 3})).handle == "same"


def test_a_variable_that_does_not_exist_reads_as_null() -> None:
    node = prepare(
        "if-else",
        {
            "cases": [
                {"case_id": "gone", "conditions": [condition("not exists", selector=("skipped", "text"))]},
            ]
        },
    )
    assert node.run(MemoryRuntime()).handle == "gone"
    nested = prepare(
        "if-else",
        {
            "cases": [
                {"case_id": "missing", "conditions": [condition("null", selector=("start", "obj", "absent"))]},
            ]
        },
    )
    assert nested.run(MemoryRuntime({"start.obj": {"present": 1}})).handle == "missing"


# -- cases -----------------------------------------------------------------------------------------


def three_cases(**first: Any) -> Any:
    return prepare(
        "if-else",
        {
            "cases": [
                {
                    "case_id": "true",
                    "logical_operator": first.get("logical", "and"),
                    "conditions": [condition("contains", "a"), condition("contains", "b")],
                },
                {"case_id": "elif-c", "conditions": [condition("contains", "c")]},
                {"case_id": "elif-c-too", "conditions": [condition("contains", "c")]},
            ]
        },
    )


@pytest.mark.parametrize(
    ("text", "logical", "handle"),
    [
        ("ab", "and", "true"),
        ("a", "and", "false"),
        ("a", "or", "true"),
        ("b", "or", "true"),
        ("c", "and", "elif-c"),  # the first true case wins; the later one is never taken
        ("ac", "and", "elif-c"),
        ("z", "or", "false"),
    ],
)
def test_cases_are_checked_in_order_with_and_or(text: str, logical: str, handle: str) -> None:
    """NODE-IFELSE: IF, ELIF..., ELSE; the first true case wins; AND / OR within a case."""
    result = three_cases(logical=logical).run(MemoryRuntime({"start.x": text}))
    assert result.handle == handle
    assert result.outputs == {"result": handle != "false", "selected_case_id": handle}


def test_or_stops_at_the_first_true_condition() -> None:
    """A later condition that could not be evaluated is not reached."""
    node = prepare(
        "if-else",
        {
            "cases": [
                {
                    "case_id": "yes",
                    "logical_operator": "or",
                    "conditions": [condition("is", "go"), condition(">", "1", selector=("start", "text"))],
                }
            ]
        },
    )
    assert node.run(MemoryRuntime({"start.x": "go", "start.text": "not a number"})).handle == "yes"
    with pytest.raises(ConditionError, match=r"start\.text"):
        node.run(MemoryRuntime({"start.x": "stop", "start.text": "not a number"}))


def test_a_case_with_no_conditions_holds_for_and() -> None:
    node = prepare("if-else", {"cases": [{"case_id": "always", "conditions": []}]})
    assert node.run(MemoryRuntime()).handle == "always"


def test_no_cases_takes_else() -> None:
    assert prepare("if-else", {"cases": []}).run(MemoryRuntime()).handle == "false"


def test_the_legacy_shape_is_one_case_named_true() -> None:
    """Before cases, If/Else kept ``conditions`` and ``logical_operator`` on the node."""
    node = prepare("if-else", {"logical_operator": "or", "conditions": [condition("is", "a"), condition("is", "b")]})
    assert node.run(MemoryRuntime({"start.x": "b"})).handle == "true"
    assert node.run(MemoryRuntime({"start.x": "c"})).handle == "false"


def test_case_id_falls_back_to_id() -> None:
    node = prepare("if-else", {"cases": [{"id": "c1", "conditions": [condition("is", "a")]}]})
    assert node.run(MemoryRuntime({"start.x": "a"})).handle == "c1"


def test_operator_aliases_read_as_dify_spellings() -> None:
    assert decide("hello", "starts with", "he")
    assert decide(5, ">=", "5")
    assert decide(5, "!=", "4")
    assert decide("", "is empty")


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "operator", "expected", "message"),
    [
        ("abc", ">", "1", "not a number"),
        (5, ">", "many", "not a number"),
        (5, "start with", "5", "needs text"),
        ({"a": 1}, "contains", "a", "text or an array"),
        (["a"], "is", "a", "needs text, a number or a boolean"),
        ("a", "in", 5, "list of values"),
        (True, "is", "maybe", "not true or false"),
        ([image()], "contains", "", "sub_variable_condition"),
    ],
)
def test_an_operator_that_does_not_fit_the_value_fails_clearly(
    actual: Any, operator: str, expected: Any, message: str
) -> None:
    """STYLE 5: the error says which variable and what is wrong."""
    with pytest.raises(ConditionError, match=message) as caught:
        decide(actual, operator, expected)
    assert "start.x" in str(caught.value)
    assert caught.value.error_type == "ConditionError"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            {"cases": [{"case_id": "a", "conditions": [condition("resembles", "x")]}]},
            "cases[0].conditions[0].comparison_operator",
        ),
        (
            {"cases": [{"case_id": "a", "conditions": [{"comparison_operator": "is"}]}]},
            "cases[0].conditions[0].variable_selector",
        ),
        (
            {"cases": [{"case_id": "a", "conditions": [condition("is", "x", selector=("only",))]}]},
            "cases[0].conditions[0].variable_selector",
        ),
        ({"cases": [{"case_id": "a", "logical_operator": "xor", "conditions": []}]}, "cases[0].logical_operator"),
        ({"cases": [{"case_id": "a"}, {"case_id": "a"}]}, "cases[1].case_id"),
        ({"cases": [{"conditions": []}]}, "cases[0].case_id"),
        ({"cases": [{"case_id": "false"}]}, "cases[0].case_id"),
        ({"cases": "nope"}, "cases"),
        (
            {
                "cases": [
                    {
                        "case_id": "a",
                        "conditions": [
                            condition(
                                "contains",
                                "",
                                sub_variable_condition={
                                    "conditions": [{"key": "colour", "comparison_operator": "is", "value": "red"}]
                                },
                            )
                        ],
                    }
                ]
            },
            "cases[0].conditions[0].sub_variable_condition.conditions[0].key",
        ),
        (
            {
                "cases": [
                    {
                        "case_id": "a",
                        "conditions": [
                            condition(
                                "contains",
                                "",
                                sub_variable_condition={"conditions": [{"comparison_operator": "is", "value": "red"}]},
                            )
                        ],
                    }
                ]
            },
            "cases[0].conditions[0].sub_variable_condition.conditions[0].key",
        ),
    ],
)
def test_bad_configurations_name_the_field(data: dict[str, Any], path: str) -> None:
    """STYLE 5: configuration errors carry the path inside the node's data."""
    with pytest.raises(NodeConfigError) as caught:
        prepare("if-else", data)
    assert caught.value.path == path
