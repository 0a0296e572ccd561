"""The DSL field readers node types share (treadle_sdk.dsl_fields): defaults for what is missing, and a
NodeConfigError at the field's path for what has the wrong shape (STYLE habit 5)."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_sdk.dsl_fields import (
    choice,
    flag,
    integer,
    items,
    mapping,
    parse_optional_selector,
    parse_selector,
    text,
)
from treadle_sdk.nodes import NodeConfigError


def test_null_reads_as_the_default() -> None:
    assert mapping(None, "p") == {}
    assert items(None, "p") == []
    assert text(None, "p", "d") == "d"
    assert flag(None, "p", True) is True
    assert integer(None, "p", 3) == 3
    assert choice(None, "p", ("a", "b"), "b") == "b"
    assert parse_optional_selector(None, "p") is None
    assert parse_optional_selector([], "p") is None


def test_values_in_their_usual_spellings_are_read() -> None:
    assert items(("a", "b"), "p") == ["a", "b"]
    assert text(2.5, "p") == "2.5"
    assert flag("TRUE", "p") is True
    assert integer("+7", "p", 0) == 7
    assert integer(4.0, "p", 0) == 4
    assert parse_selector(["node", "items", 0], "p") == ("node", "items", "0")


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (lambda v: mapping(v, "data.x"), [1], "expected an object, not list"),
        (lambda v: items(v, "data.x"), "a", "expected a list, not str"),
        (lambda v: text(v, "data.x"), True, "expected text, not bool"),
        (lambda v: flag(v, "data.x"), "yes", "expected true or false, not 'yes'"),
        (lambda v: integer(v, "data.x", 0), 1.5, "expected a whole number, not 1.5"),
        (lambda v: integer(v, "data.x", 0, maximum=10), 11, "must be at most 10, not 11"),
        (lambda v: choice(v, "data.x", ("a", "b"), "a"), "c", "must be one of a, b, not 'c'"),
        (lambda v: parse_selector(v, "data.x"), ["only"], "expected a variable selector"),
        (lambda v: parse_optional_selector(v, "data.x"), ["node", ""], "expected a variable selector"),
    ],
)
def test_a_wrong_shape_names_the_field(read: Any, value: Any, message: str) -> None:
    with pytest.raises(NodeConfigError) as raised:
        read(value)
    assert raised.value.path == "data.x"
    assert message in raised.value.message
