"""Tool parameter declarations and the error for a bad value (treadle_sdk.tool_parameters)."""

from __future__ import annotations

import pytest
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.schemas import ToolParameterForm, ToolParameterType
from treadle_sdk.tool_parameters import (
    boolean_parameter,
    invalid_parameter,
    number_parameter,
    select_parameter,
    string_parameter,
)


def test_people_and_the_model_read_the_same_description() -> None:
    built = [
        string_parameter("s", "S", "What s is.", required=True),
        number_parameter("n", "N", "What s is.", minimum=0, maximum=9, precision=0),
        boolean_parameter("b", "B", "What s is.", default=False),
    ]
    assert [p.type for p in built] == [ToolParameterType.STRING, ToolParameterType.NUMBER, ToolParameterType.BOOLEAN]
    assert all(p.human_description == {"en_US": "What s is."} and p.llm_description == "What s is." for p in built)
    assert (built[1].min, built[1].max, built[1].precision) == (0, 9, 0)
    assert built[2].form == ToolParameterForm.FORM


def test_a_select_lists_its_values_to_the_model() -> None:
    picked = select_parameter("unit", "Unit", "What to count.", {"words": "Words", "lines": "Lines"}, default="words")
    assert [o.value for o in picked.options] == ["words", "lines"]
    assert picked.llm_description == "What to count. One of: words, lines."


def test_a_select_default_must_be_an_option() -> None:
    with pytest.raises(ValueError, match="is not one of the options"):
        select_parameter("unit", "Unit", "What to count.", {"words": "Words"}, default="pages")


def test_invalid_parameter_names_the_parameter_first() -> None:
    error = invalid_parameter("query", "matches nothing", position=3)
    assert isinstance(error, PluginInvalidArgument)
    assert error.message == "parameter 'query': matches nothing"
    assert error.details == {"parameter": "query", "position": 3}
