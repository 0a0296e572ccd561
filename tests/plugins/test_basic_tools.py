"""The basic tools (treadle_basic_tools): ``time`` and ``maths``, called through the real dispatcher."""

from __future__ import annotations

import importlib.metadata
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import treadle_basic_tools
from treadle_basic_tools.calculator import MAX_DEPTH, MAX_LENGTH
from treadle_sdk.errors import ErrorCode, PluginInvalidArgument
from treadle_sdk.testing import invoke, load
from treadle_sdk.tool_runtime import JsonMessage, TextMessage


def run_tool(provider: str, tool: str, **parameters: Any) -> list[Any]:
    payload = {"tool": tool, "parameters": parameters}
    return invoke(treadle_basic_tools, "tool_provider", provider, "invoke_tool", payload)


def text_of(messages: list[Any]) -> str:
    return "".join(m.text for m in messages if isinstance(m, TextMessage))


def calculate(expression: str) -> tuple[str, Any]:
    """The text and the JSON result of eval_expression."""
    messages = run_tool("maths", "eval_expression", expression=expression)
    (json_message,) = [m for m in messages if isinstance(m, JsonMessage)]
    return text_of(messages), json_message.json_object["result"]


# -- registration ------------------------------------------------------------------------------


def test_providers_register_with_dify_names_and_typed_parameters() -> None:
    """PLUG-TOOL-SCHEMA, PLUG-TYPE-TOOL: providers and tools named like Dify's built-ins."""
    table = load(treadle_basic_tools).extensions
    assert table.names("tool_provider") == ["maths", "time"]
    entries = {name: table.get("tool_provider", name) for name in ("time", "maths")}
    schemas = {name: entry.schema for name, entry in entries.items() if entry is not None}
    tools = {p: {t["name"]: t for t in schema["tools"]} for p, schema in schemas.items()}
    assert list(tools["time"]) == ["current_time", "timezone_conversion", "weekday"]
    assert list(tools["maths"]) == ["eval_expression"]

    def parameters(provider: str, tool: str) -> dict[str, tuple[str, str, bool, Any]]:
        return {
            p["name"]: (p["type"], p["form"], p["required"], p["default"]) for p in tools[provider][tool]["parameters"]
        }

    assert parameters("time", "current_time") == {
        "timezone": ("string", "llm", False, "UTC"),
        "format": ("string", "form", False, "%Y-%m-%d %H:%M:%S"),
    }
    assert parameters("time", "weekday") == {
        "year": ("number", "llm", True, None),
        "month": ("number", "llm", True, None),
        "day": ("number", "llm", True, None),
    }
    assert parameters("maths", "eval_expression") == {"expression": ("string", "llm", True, None)}
    every_parameter = [p for provider in tools.values() for tool in provider.values() for p in tool["parameters"]]
    assert all(p["label"]["en_US"] and p["llm_description"] for p in every_parameter)


def test_plugin_is_published_under_the_treadle_entry_point_group() -> None:
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group="treadle") if ep.name == "basic-tools"]
    assert entry_point.load() is treadle_basic_tools


# -- time: current_time -----------------------------------------------------------------------


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
def test_current_time_is_now_in_the_timezone(timezone: str) -> None:
    fmt = "%Y-%m-%d %H:%M %Z %z"
    before = datetime.now(ZoneInfo(timezone)).strftime(fmt)
    result = text_of(run_tool("time", "current_time", timezone=timezone, format=fmt))
    after = datetime.now(ZoneInfo(timezone)).strftime(fmt)
    # The call may straddle a minute boundary.
    assert result in {before, after}


def test_current_time_defaults_to_utc_and_the_dify_format() -> None:
    before = datetime.now(ZoneInfo("UTC")).replace(microsecond=0, tzinfo=None)
    result = text_of(run_tool("time", "current_time"))
    after = datetime.now(ZoneInfo("UTC")).replace(microsecond=0, tzinfo=None)
    assert before <= datetime.strptime(result, "%Y-%m-%d %H:%M:%S") <= after


def test_current_time_keeps_literal_text_and_percent_signs() -> None:
    result = text_of(run_tool("time", "current_time", format="year %Y, 100%%"))
    assert result == f"year {datetime.now(ZoneInfo('UTC')).year}, 100%"


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "Europe", "/etc/passwd", "../../etc/passwd"])
def test_current_time_refuses_unknown_timezones(timezone: str) -> None:
    with pytest.raises(PluginInvalidArgument, match="parameter 'timezone': unknown timezone") as caught:
        run_tool("time", "current_time", timezone=timezone)
    assert caught.value.details == {"parameter": "timezone", "value": timezone}
    assert "IANA" in caught.value.message


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("%Y-%Q", "unknown directive '%Q' at position 4"),
        ("%H:%M %", "ends with a lone '%'"),
        ("%Y %-", "ends with a lone '%'"),
    ],
)
def test_current_time_refuses_bad_formats(fmt: str, message: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=message) as caught:
        run_tool("time", "current_time", format=fmt)
    assert caught.value.details["parameter"] == "format"


# -- time: timezone_conversion -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (
            {"current_time": "2024-01-01 12:00:00", "current_timezone": "UTC", "target_timezone": "Asia/Tokyo"},
            "2024-01-01 21:00:00",
        ),
        # Summer time on both sides.
        (
            {
                "current_time": "2024-07-01 12:00:00",
                "current_timezone": "America/New_York",
                "target_timezone": "Europe/London",
            },
            "2024-07-01 17:00:00",
        ),
        (
            {"current_time": "2024-01-01 00:30:00", "current_timezone": "Asia/Kolkata", "target_timezone": "UTC"},
            "2023-12-31 19:00:00",
        ),
        (
            {
                "current_time": "01/03/2024 08:00",
                "current_timezone": "Europe/Paris",
                "target_timezone": "America/Los_Angeles",
                "format": "%d/%m/%Y %H:%M",
            },
            "29/02/2024 23:00",
        ),
        # An offset in the text wins over current_timezone.
        (
            {
                "current_time": "2024-01-01 12:00 +0200",
                "current_timezone": "UTC",
                "target_timezone": "UTC",
                "format": "%Y-%m-%d %H:%M %z",
            },
            "2024-01-01 10:00 +0000",
        ),
    ],
)
def test_timezone_conversion(parameters: dict[str, str], expected: str) -> None:
    assert text_of(run_tool("time", "timezone_conversion", **parameters)) == expected


def test_timezone_conversion_errors_name_the_parameter() -> None:
    base = {"current_time": "2024-01-01 12:00:00", "current_timezone": "UTC", "target_timezone": "Asia/Tokyo"}
    with pytest.raises(PluginInvalidArgument, match="parameter 'target_timezone': unknown timezone 'Asia/Atlantis'"):
        run_tool("time", "timezone_conversion", **{**base, "target_timezone": "Asia/Atlantis"})
    with pytest.raises(PluginInvalidArgument, match="parameter 'current_timezone': unknown timezone"):
        run_tool("time", "timezone_conversion", **{**base, "current_timezone": "Nowhere"})
    with pytest.raises(PluginInvalidArgument, match=r"parameter 'current_time': '1 Jan 2024' does not match"):
        run_tool("time", "timezone_conversion", **{**base, "current_time": "1 Jan 2024"})
    with pytest.raises(
        PluginInvalidArgument, match="parameter 'current_time' of tool 'timezone_conversion' is required"
    ):
        run_tool("time", "timezone_conversion", current_timezone="UTC", target_timezone="UTC")


# -- time: weekday -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "day", "weekday"),
    [(2024, 1, 1, "Monday"), (2024, 2, 29, "Thursday"), (2000, 12, 31, "Sunday"), ("1969", "7", "20", "Sunday")],
)
def test_weekday(year: Any, month: Any, day: Any, weekday: str) -> None:
    messages = run_tool("time", "weekday", year=year, month=month, day=day)
    assert text_of(messages) == weekday
    (json_message,) = [m for m in messages if isinstance(m, JsonMessage)]
    assert json_message.json_object == {"date": f"{int(year):04d}-{int(month):02d}-{int(day):02d}", "weekday": weekday}


@pytest.mark.parametrize(
    ("year", "month", "day", "message"),
    [
        (2023, 2, 29, "year 2023, month 2, day 29 is not a date: day is out of range for month"),
        (2024, 13, 1, "parameter 'month' of tool 'weekday' must be at least 1 and at most 12, not 13"),
        (2024, 1.5, 1, "parameter 'month' must be a whole number"),
    ],
)
def test_weekday_refuses_impossible_dates(year: Any, month: Any, day: Any, message: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=message):
        run_tool("time", "weekday", year=year, month=month, day=day)


# -- maths: eval_expression --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-2 ** 2", -4),
        ("(-2) ** 2", 4),
        ("+-+3", -3),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("7.5 % 2", 1.5),
        ("1_000 * 1e3", 1e6),
        ("0x10 + 0o10 + 0b10", 26),
        ("sqrt(16)", 4.0),
        ("sqrt(2) ** 2", 2.0000000000000004),
        ("sin(pi / 2)", 1.0),
        ("cos(0)", 1.0),
        ("tan(0)", 0.0),
        ("log(e)", 1.0),
        ("log(8, 2)", 3.0),
        ("log10(1000)", 3.0),
        ("exp(0)", 1.0),
        ("abs(-3.5)", 3.5),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("round(1234, -2)", 1200),
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2.5)", 3),
        ("min(4)", 4),
        ("floor(-2.5)", -3),
        ("ceil(2.1)", 3),
        ("2 ** 1000 % 1000", 376),
        ("  1 + 1  ", 2),
        ("(1 +\n 2)", 3),
        ("1 + 1  # a comment", 2),
    ],
)
def test_eval_expression_computes(expression: str, expected: float) -> None:
    _, result = calculate(expression)
    assert result == pytest.approx(expected, rel=1e-15)
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("0.1 + 0.2", "0.3"),
        ("10 / 4", "2.5"),
        ("sqrt(16)", "4"),
        ("1 / 3", "0.333333333333333"),
        ("2 ** 100", "1267650600228229401496703205376"),
        ("1e300 * 10", "1e+301"),
    ],
)
def test_eval_expression_text_reads_like_a_calculator(expression: str, text: str) -> None:
    assert calculate(expression)[0] == text


def test_eval_expression_keeps_large_integers_exact() -> None:
    text, result = calculate("9 ** 1000")
    assert result == 9**1000
    assert text == str(9**1000)


@pytest.mark.parametrize(
    ("expression", "message", "column"),
    [
        ("__import__('os')", "calling '__import__' is not allowed", 1),
        ("().__class__", "attribute access (.__class__) is not allowed", 1),
        ("1 + ().__class__.__bases__[0]", "subscripts are not allowed", 5),
        ("math.sqrt(4)", "attribute access (.sqrt) is not allowed", 1),
        ("open('/etc/passwd')", "calling 'open' is not allowed", 1),
        ("(sqrt)(4)(2)", "calling this is not allowed", 1),
        ("2 ** 10 ** 10", "the exponent 1e+10 is too large", 6),
        ("10 ** 1001", "the exponent 1001 is too large", 7),
        ("11 ** 1000", "the result would have about 1041 digits", 1),
        ("'a' * 10", "strings are not allowed", 1),
        ("b'a'", "bytes are not allowed", 1),
        ("f'{1}'", "f-strings are not allowed", 1),
        ("True + 1", "booleans are not allowed", 1),
        ("1j", "complex numbers are not allowed", 1),
        ("[x for x in ()]", "comprehensions are not allowed", 1),
        ("sum(x for x in (1, 2))", "calling 'sum' is not allowed", 1),
        ("1 + x", "unknown name 'x'", 5),
        ("sqrt", "sqrt is a function", 1),
        ("lambda: 1", "lambdas are not allowed", 1),
        ("(1, 2)", "tuples are not allowed", 1),
        ("[1]", "lists are not allowed", 1),
        ("{1: 2}", "dicts are not allowed", 1),
        ("1 < 2", "comparisons are not allowed", 1),
        ("1 and 2", "'and' and 'or' are not allowed", 1),
        ("1 if 1 else 2", "conditional expressions are not allowed", 1),
        ("(y := 2)", "assignment expressions are not allowed", 2),
        ("~1", "the operator ~ is not allowed", 1),
        ("1 << 100", "the operator << is not allowed", 1),
        ("1 / 0", "division by zero", 5),
        ("5 // (2 - 2)", "division by zero", 7),
        ("5 % 0", "division by zero", 5),
        ("0 ** -1", "zero cannot be raised to a negative power", 1),
        ("sqrt(-1)", "sqrt() is undefined for these arguments (math domain error)", 1),
        ("log(0)", "log() is undefined for these arguments", 1),
        ("(-8) ** 0.5", "the result is not a real number", 1),
        ("1e999", "this number is too large", 1),
        ("10.0 ** 400", "the result is too large", 1),
        ("exp(1000)", "the result of exp() is too large", 1),
        ("10 ** 999 * 10", "the result has more than 1000 digits", 1),
        ("round(1, 10 ** 9)", "the number of digits must be between", 1),
        ("sqrt(1, 2)", "sqrt() takes 1 argument(s), not 2", 1),
        ("max()", "max() takes at least 1 argument(s), not 0", 1),
        ("round(2.5, ndigits=1)", "round() takes no keyword arguments", 12),
        ("1 +", "invalid syntax", 1),
        ("  1 + x", "unknown name 'x'", 7),
        ("é + 1", "unknown name 'é'", 1),
        ("1 + é", "unknown name 'é'", 5),
    ],
)
def test_eval_expression_refuses_with_what_and_where(expression: str, message: str, column: int) -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        calculate(expression)
    error = caught.value
    assert error.code is ErrorCode.INVALID_ARGUMENT
    assert message in error.message
    assert error.message.startswith("parameter 'expression': ")
    assert f"at column {column}" in error.message
    assert error.details == {"parameter": "expression", "line": 1, "column": column}
    assert error.call == "tool_provider/maths.invoke_tool"


def test_eval_expression_positions_on_later_lines_name_the_line() -> None:
    with pytest.raises(
        PluginInvalidArgument, match="unknown name 'x' at line 2, column 3; the names allowed are the functions sqrt, "
    ) as caught:
        calculate("(1 +\n  x)")
    assert caught.value.details == {"parameter": "expression", "line": 2, "column": 3}


def test_eval_expression_limits_length() -> None:
    calculate("1" * MAX_LENGTH)
    with pytest.raises(PluginInvalidArgument, match=f"is {MAX_LENGTH + 1} characters long; the limit is {MAX_LENGTH}"):
        calculate("1" * (MAX_LENGTH + 1))


def test_eval_expression_limits_nesting() -> None:
    """A sum of n terms nests n deep: MAX_DEPTH terms are fine, one more is refused."""
    assert calculate("+".join(["1"] * MAX_DEPTH))[1] == MAX_DEPTH
    for deep in ["+".join(["1"] * (MAX_DEPTH + 1)), "-" * 900 + "1", "(" * 250 + "1" + ")" * 250]:
        with pytest.raises(PluginInvalidArgument, match=r"nested too deeply|too many nested parentheses"):
            calculate(deep)


@pytest.mark.parametrize("expression", ["", "   "])
def test_eval_expression_needs_an_expression(expression: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=r"'expression'.*(required|empty)"):
        calculate(expression)


def test_eval_expression_results_are_finite_numbers() -> None:
    """No expression in the accepted shape yields inf or nan: they are refused as too large."""
    for expression in ["1e308 * 10", "-1e308 * 10", "1e308 + 1e308", "2.0 ** 1024"]:
        with pytest.raises(PluginInvalidArgument, match="too large"):
            calculate(expression)
    assert math.isfinite(calculate("1e308 * 1.5 / 2")[1])
