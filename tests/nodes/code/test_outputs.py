"""The checks on what ``main()`` returns (NODE-CODE): declared outputs and types, 80,000-character
strings without null bytes, numbers within -999999999..999999999 rounded to 10 decimals, and at
most 5 levels of objects and arrays. No sandbox here: the checker is called directly."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_code_node import (
    DepthLimitError,
    OutputChecker,
    OutputLimits,
    OutputSpec,
    OutputValidationError,
    parse_outputs,
)
from treadle_sdk.nodes import NodeConfigError

CHECKER = OutputChecker(OutputLimits())


def check(result: dict[str, Any], outputs: dict[str, Any], checker: OutputChecker = CHECKER) -> dict[str, Any]:
    return checker.check(result, parse_outputs(outputs))


def spec(kind: str, children: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": kind, "children": children}


# -- declarations ------------------------------------------------------------------------------


def test_outputs_parse_with_nested_children() -> None:
    parsed = parse_outputs({"a": spec("string"), "b": spec("object", {"c": spec("array[number]")})})
    assert parsed == {
        "a": OutputSpec("string"),
        "b": OutputSpec("object", {"c": OutputSpec("array[number]")}),
    }


def test_no_outputs_declared_means_none() -> None:
    assert parse_outputs(None) == {}
    assert check({}, {}) == {}


@pytest.mark.parametrize(
    ("outputs", "path"),
    [
        ([], "outputs"),
        ({"a": "string"}, "outputs.a"),
        ({"a": spec("text")}, "outputs.a.type"),
        ({"a": spec("object", {"b": spec("array[file]")})}, "outputs.a.children.b.type"),
    ],
)
def test_an_invalid_declaration_names_its_path(outputs: Any, path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        parse_outputs(outputs)
    assert caught.value.path == path


# -- presence and types ------------------------------------------------------------------------


def test_a_missing_output_is_named() -> None:
    with pytest.raises(OutputValidationError, match="'total' is missing") as caught:
        check({"other": 1}, {"total": spec("number"), "other": spec("number")})
    assert caught.value.output == "total"
    assert caught.value.error_type == "OutputValidationError"


def test_an_undeclared_output_is_refused() -> None:
    with pytest.raises(OutputValidationError, match="'extra', which is not a declared output"):
        check({"a": "x", "extra": 1}, {"a": spec("string")})


GOOD = {
    "string": "text",
    "number": 1.5,
    "boolean": True,
    "object": {"k": [1, "two", None]},
    "array[string]": ["a", "b"],
    "array[number]": [1, 2.5],
    "array[object]": [{"a": 1}, None],
    "array[boolean]": [True, False, None],
}


@pytest.mark.parametrize("kind", list(GOOD))
def test_each_type_accepts_its_values_and_null(kind: str) -> None:
    assert check({"out": GOOD[kind]}, {"out": spec(kind)}) == {"out": GOOD[kind]}
    assert check({"out": None}, {"out": spec(kind)}) == {"out": None}


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("string", 5, "must be a string, not number"),
        ("number", "5", "must be a number, not string"),
        ("boolean", 1, "must be a boolean, not number"),
        ("object", [1], "must be an object, not array"),
        ("array[string]", "abc", "must be an array[string], not string"),
        ("array[string]", ["a", 1], "'out[1]' must be a string, not number"),
        ("array[number]", [1, "2"], "'out[1]' must be a number, not string"),
        ("array[number]", [1, None], "'out[1]' must be a number, not null"),
        ("array[object]", [{}, 3], "'out[1]' must be an object, not number"),
        ("array[boolean]", [True, "yes"], "'out[1]' must be a boolean, not string"),
    ],
)
def test_a_wrong_type_is_an_output_validation_error(kind: str, value: Any, message: str) -> None:
    with pytest.raises(OutputValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check({"out": value}, {"out": spec(kind)})


def test_a_boolean_for_a_number_becomes_0_or_1_as_in_dify() -> None:
    assert check({"a": True, "b": [False, 2]}, {"a": spec("number"), "b": spec("array[number]")}) == {
        "a": 1,
        "b": [0, 2],
    }


def test_declared_children_of_an_object_are_checked_with_their_path() -> None:
    outputs = {"user": spec("object", {"name": spec("string"), "age": spec("number")})}
    assert check({"user": {"name": "Ada", "age": 36}}, outputs) == {"user": {"name": "Ada", "age": 36}}
    with pytest.raises(OutputValidationError, match=r"'user\.age' is missing") as caught:
        check({"user": {"name": "Ada"}}, outputs)
    assert caught.value.output == "user.age"
    with pytest.raises(OutputValidationError, match=r"'user\.age' must be a number"):
        check({"user": {"name": "Ada", "age": "36"}}, outputs)


# -- strings -----------------------------------------------------------------------------------


def test_strings_up_to_80000_characters_pass_and_longer_ones_fail() -> None:
    assert len(check({"s": "x" * 80_000}, {"s": spec("string")})["s"]) == 80_000
    with pytest.raises(OutputValidationError, match="80,001 characters long; at most 80,000"):
        check({"s": "x" * 80_001}, {"s": spec("string")})


def test_null_bytes_are_removed_from_strings_everywhere() -> None:
    outputs = {"s": spec("string"), "a": spec("array[string]"), "o": spec("object")}
    result = check({"s": "a\x00b", "a": ["\x00c"], "o": {"k": ["d\x00"]}}, outputs)
    assert result == {"s": "ab", "a": ["c"], "o": {"k": ["d"]}}


def test_a_long_string_inside_an_object_is_found_by_its_path() -> None:
    with pytest.raises(OutputValidationError) as caught:
        check({"o": {"items": [{"text": "x" * 80_001}]}}, {"o": spec("object")})
    assert caught.value.output == "o.items[0].text"


# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [999_999_999, -999_999_999, 0, 0.5])
def test_numbers_within_the_range_pass(value: float) -> None:
    assert check({"n": value}, {"n": spec("number")}) == {"n": value}


@pytest.mark.parametrize("value", [1_000_000_000, -1_000_000_000, 1e12])
def test_numbers_outside_the_range_fail(value: float) -> None:
    with pytest.raises(OutputValidationError, match=r"outside the allowed range -999999999\.\.999999999"):
        check({"n": value}, {"n": spec("number")})


def test_a_number_out_of_range_inside_an_array_is_named() -> None:
    with pytest.raises(OutputValidationError) as caught:
        check({"n": [1, 2, 10**10]}, {"n": spec("array[number]")})
    assert caught.value.output == "n[2]"


def test_floats_are_rounded_to_10_decimal_places() -> None:
    result = check(
        {"n": 1 / 3, "a": [2 / 3], "o": {"x": 0.123456789012345}},
        {
            "n": spec("number"),
            "a": spec("array[number]"),
            "o": spec("object"),
        },
    )
    assert result == {"n": 0.3333333333, "a": [0.6666666667], "o": {"x": 0.123456789}}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_fail(value: float) -> None:
    with pytest.raises(OutputValidationError, match="not a finite number"):
        check({"n": value}, {"n": spec("number")})


# -- depth -------------------------------------------------------------------------------------


def test_five_levels_of_objects_and_arrays_pass() -> None:
    value = {"a": [{"b": [{"c": 1}]}]}  # object, array, object, array, object
    assert check({"o": value}, {"o": spec("object")}) == {"o": value}


def test_a_sixth_level_is_a_depth_limit_error() -> None:
    value = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    with pytest.raises(DepthLimitError, match="more than 5 levels deep") as caught:
        check({"o": value}, {"o": spec("object")})
    assert caught.value.error_type == "DepthLimitError"
    assert caught.value.output == "o.a.b.c.d.e"
    check({"o": value["a"]}, {"o": spec("object")})


def test_depth_counts_through_arrays_of_objects() -> None:
    ok = [{"a": [{"b": {"c": 1}}]}]  # array, object, array, object, object: 5 levels
    assert check({"o": ok}, {"o": spec("array[object]")}) == {"o": ok}
    with pytest.raises(DepthLimitError):
        check({"o": [{"a": [{"b": {"c": [1]}}]}]}, {"o": spec("array[object]")})


# -- limits from the settings --------------------------------------------------------------------


def test_the_limits_follow_the_settings() -> None:
    checker = OutputChecker(
        OutputLimits(
            max_string_length=3, max_number=10, min_number=-10, max_precision=2, max_depth=1, max_string_array_length=2
        )
    )
    assert check({"n": 1.2345}, {"n": spec("number")}, checker) == {"n": 1.23}
    with pytest.raises(OutputValidationError, match="at most 3"):
        check({"s": "abcd"}, {"s": spec("string")}, checker)
    with pytest.raises(OutputValidationError, match=r"range -10\.\.10"):
        check({"n": 11}, {"n": spec("number")}, checker)
    with pytest.raises(DepthLimitError):
        check({"o": {"a": {}}}, {"o": spec("object")}, checker)
    with pytest.raises(OutputValidationError, match="has 3 elements; at most 2"):
        check({"a": ["x", "y", "z"]}, {"a": spec("array[string]")}, checker)
