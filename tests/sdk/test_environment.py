"""Installation settings from environment variables (treadle_sdk.environment)."""

from __future__ import annotations

import pytest
from treadle_sdk.environment import positive_number


def test_unset_and_blank_take_the_default() -> None:
    assert positive_number({}, "TREADLE_X", 10.0) == 10.0
    assert positive_number({"TREADLE_X": "  "}, "TREADLE_X", 10.0) == 10.0
    assert positive_number({"TREADLE_X": " 2.5 "}, "TREADLE_X", 10.0) == 2.5


@pytest.mark.parametrize(("raw", "problem"), [("soon", "is not a number"), ("0", "is not positive")])
def test_a_bad_value_names_the_variable(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match=f"TREADLE_X: '{raw}' {problem}"):
        positive_number({"TREADLE_X": raw}, "TREADLE_X", 10.0)
