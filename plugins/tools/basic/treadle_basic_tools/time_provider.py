"""The ``time`` tool provider: the current time, timezone conversion and weekdays.

Provider and tool names follow Dify's built-in ``time`` provider, so that Dify DSL files that use
it find these tools. Timezones are IANA names resolved with :mod:`zoneinfo`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import Tool, ToolProvider
from treadle_sdk.schemas import (
    ToolParameterForm,
    ToolProviderSchema,
    ToolSchema,
)
from treadle_sdk.tool_parameters import invalid_parameter, number_parameter, string_parameter
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

__all__ = [
    "DEFAULT_FORMAT",
    "CurrentTimeTool",
    "TimeToolProvider",
    "TimezoneConversionTool",
    "WeekdayTool",
    "check_format",
    "resolve_timezone",
]

DEFAULT_FORMAT = "%Y-%m-%d %H:%M:%S"

# Spelled out rather than taken from strftime("%A"), which follows the process locale.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# The strftime directives Python documents, plus the common C99/glibc ones, and glibc's padding
# flags (``%-d``). Unknown directives would otherwise be copied to the output unchanged, silently.
_DIRECTIVES = frozenset("aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%")
_FLAGS = frozenset("-_0^#")

_ZONE_HINT = "use an IANA timezone name such as 'UTC', 'Europe/Paris' or 'Asia/Shanghai'"


def resolve_timezone(name: str, parameter: str) -> ZoneInfo:
    """The timezone called ``name``; an unknown name is the caller's error, naming ``parameter``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # tzdata: a region name is a directory
        # ValueError: keys that are not relative paths inside the tz database ("/etc/passwd", "../x").
        raise invalid_parameter(parameter, f"unknown timezone {name!r}; {_ZONE_HINT}", value=name) from None


def check_format(fmt: str, parameter: str = "format") -> None:
    """Refuse a strftime format with an unknown directive or a lone ``%`` at its end."""
    position = fmt.find("%")
    while position != -1:
        end = position + 1
        if end < len(fmt) and fmt[end] in _FLAGS:
            end += 1
        if end >= len(fmt):
            raise invalid_parameter(
                parameter,
                f"the format {fmt!r} ends with a lone '%' (write '%%' for a percent sign)",
                position=position + 1,
            )
        if fmt[end] not in _DIRECTIVES:
            raise invalid_parameter(
                parameter,
                f"unknown directive {fmt[position : end + 1]!r} at position {position + 1} of the format "
                f"{fmt!r}; use strftime directives such as {DEFAULT_FORMAT!r}",
                position=position + 1,
            )
        position = fmt.find("%", end + 1)


def _render(moment: datetime, fmt: str, parameter: str = "format") -> str:
    check_format(fmt, parameter)
    try:
        return moment.strftime(fmt)
    except ValueError as exc:  # characters the C library cannot take, such as lone surrogates
        raise invalid_parameter(parameter, f"cannot format a time with {fmt!r}: {exc}") from None


def _whole(value: Any, parameter: str) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise PluginInvalidArgument(
            f"parameter {parameter!r} must be a whole number, not {value!r}", details={"parameter": parameter}
        )
    return value


class CurrentTimeTool(Tool):
    """``current_time``: now, in a timezone, formatted with a strftime format."""

    schema = ToolSchema(
        name="current_time",
        label="Current Time",
        description="The current date and time in a timezone.",
        llm_description="Get the current date and time in a timezone. Use it to answer questions about 'now'.",
        parameters=[
            string_parameter(
                "timezone",
                "Timezone",
                "An IANA timezone name, such as 'UTC', 'America/New_York' or 'Asia/Shanghai'.",
                default="UTC",
                placeholder="UTC",
            ),
            string_parameter(
                "format",
                "Format",
                f"A strftime format for the result, such as {DEFAULT_FORMAT!r}.",
                form=ToolParameterForm.FORM,
                default=DEFAULT_FORMAT,
                placeholder=DEFAULT_FORMAT,
            ),
        ],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[TextMessage]:
        zone = resolve_timezone(parameters["timezone"], "timezone")
        return [TextMessage(text=_render(datetime.now(zone), parameters["format"]))]


class TimezoneConversionTool(Tool):
    """``timezone_conversion``: a wall-clock time in one timezone, as it reads in another."""

    schema = ToolSchema(
        name="timezone_conversion",
        label="Timezone Conversion",
        description="Convert a date and time from one timezone to another.",
        llm_description="Convert a date and time (written in the given format) from one timezone to another.",
        parameters=[
            string_parameter(
                "current_time",
                "Time",
                f"The date and time to convert, written in the format (by default {DEFAULT_FORMAT!r}).",
                required=True,
            ),
            string_parameter(
                "current_timezone", "From timezone", "The IANA timezone the time is in, such as 'UTC'.", required=True
            ),
            string_parameter(
                "target_timezone",
                "To timezone",
                "The IANA timezone to convert to, such as 'Asia/Tokyo'.",
                required=True,
            ),
            string_parameter(
                "format",
                "Format",
                "The strftime format the time is written in; the result uses it too.",
                form=ToolParameterForm.FORM,
                default=DEFAULT_FORMAT,
                placeholder=DEFAULT_FORMAT,
            ),
        ],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[TextMessage]:
        source = resolve_timezone(parameters["current_timezone"], "current_timezone")
        target = resolve_timezone(parameters["target_timezone"], "target_timezone")
        fmt, text = parameters["format"], parameters["current_time"]
        check_format(fmt)
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError as exc:
            raise PluginInvalidArgument(
                f"parameter 'current_time': {text!r} does not match the format {fmt!r} ({exc})",
                details={"parameter": "current_time"},
            ) from None
        # An offset written in the text itself (%z) says more than current_timezone does.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=source)
        return [TextMessage(text=_render(moment.astimezone(target), fmt))]


class WeekdayTool(Tool):
    """``weekday``: the day of the week of a date (English names, whatever the server's locale)."""

    schema = ToolSchema(
        name="weekday",
        label="Weekday",
        description="The day of the week of a date.",
        llm_description="Get the day of the week (Monday to Sunday) of a date given as year, month and day.",
        parameters=[
            number_parameter("year", "Year", "The year, such as 2024.", required=True, minimum=1, maximum=9999),
            number_parameter("month", "Month", "The month, 1 to 12.", required=True, minimum=1, maximum=12),
            number_parameter("day", "Day", "The day of the month, 1 to 31.", required=True, minimum=1, maximum=31),
        ],
    )

    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> list[TextMessage | JsonMessage]:
        year, month, day = (_whole(parameters[name], name) for name in ("year", "month", "day"))
        try:
            when = date(year, month, day)
        except ValueError as exc:
            raise PluginInvalidArgument(
                f"year {year}, month {month}, day {day} is not a date: {exc}",
                details={"year": year, "month": month, "day": day},
            ) from None
        weekday = _WEEKDAYS[when.weekday()]
        return [TextMessage(text=weekday), JsonMessage(json_object={"date": when.isoformat(), "weekday": weekday})]


class TimeToolProvider(ToolProvider):
    """The ``time`` provider. Its tools are pure computations, so they run on the event loop."""

    blocking = False
    schema = ToolProviderSchema(
        name="time",
        author="treadle",
        label="Time",
        description="The current time in any timezone, timezone conversion and weekdays.",
        tags=["utilities"],
    )

    def __init__(self) -> None:
        self.tools = [CurrentTimeTool(), TimezoneConversionTool(), WeekdayTool()]
