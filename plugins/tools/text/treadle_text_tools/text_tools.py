"""Plain text utilities: counting, case, trimming, replacing, splitting, joining and substrings.

Positions and lengths count characters (Unicode code points), not bytes. Separators typed into a
form may spell ``\\n``, ``\\t`` and ``\\r``.
"""

from __future__ import annotations

import json
from typing import Any

import regex
from treadle_sdk.context import CallContext
from treadle_sdk.extensions import Tool
from treadle_sdk.schemas import ToolParameter, ToolParameterForm, ToolParameterType, ToolSchema
from treadle_sdk.tool_parameters import (
    boolean_parameter,
    invalid_parameter,
    number_parameter,
    select_parameter,
    string_parameter,
)
from treadle_sdk.tool_runtime import JsonMessage, TextMessage, VariableMessage

from .parameters import checked_text, unescape

__all__ = [
    "CASES",
    "MAX_JOINED",
    "ChangeCaseTool",
    "CountTool",
    "JoinTool",
    "ReplaceTool",
    "SplitTool",
    "SubstringTool",
    "TrimTool",
    "change_case",
]

_TEXT = string_parameter("text", "Text", "The text to work on (it may be empty).")

#: Words for the programmer's cases: runs of letters split where the case changes
#: (``HTTPServer`` -> ``HTTP``, ``Server``), digits, and letters of scripts without case.
_WORD = regex.compile(r"\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?\p{Ll}+|\p{Lu}+|\p{N}+|[\p{L}\p{M}]+")

CASES = {
    "upper": "UPPER CASE",
    "lower": "lower case",
    "title": "Title Case",
    "sentence": "Sentence case",
    "swapcase": "sWAP cASE",
    "snake": "snake_case",
    "kebab": "kebab-case",
    "camel": "camelCase",
    "pascal": "PascalCase",
}


def change_case(value: str, case: str) -> str:
    """``value`` written in ``case`` (a key of :data:`CASES`)."""
    if case == "upper":
        return value.upper()
    if case == "lower":
        return value.lower()
    if case == "title":
        return value.title()
    if case == "swapcase":
        return value.swapcase()
    if case == "sentence":
        stripped = value.lstrip()
        lead = value[: len(value) - len(stripped)]
        return lead + stripped[:1].upper() + stripped[1:].lower()
    words = _WORD.findall(value)
    if case == "snake":
        return "_".join(w.lower() for w in words)
    if case == "kebab":
        return "-".join(w.lower() for w in words)
    pascal = "".join(w[:1].upper() + w[1:].lower() for w in words)
    return pascal if case == "pascal" else pascal[:1].lower() + pascal[1:]


class CountTool(Tool):
    """``count``: characters, words, lines and UTF-8 bytes of a text."""

    UNITS = {"characters": "Characters", "words": "Words", "lines": "Lines", "bytes": "Bytes (UTF-8)"}

    schema = ToolSchema(
        name="count",
        label="Count",
        description="Count the characters, words, lines or bytes of a text.",
        llm_description="Count a text's characters, words (separated by whitespace), lines or UTF-8 bytes.",
        parameters=[
            _TEXT,
            select_parameter("unit", "Unit", "What the text output counts.", UNITS, default="characters"),
        ],
        output_schema={
            "type": "object",
            "properties": {
                unit: {"type": "integer", "description": f"{caption} in the text"} for unit, caption in UNITS.items()
            },
        },
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        value = checked_text(parameters, "text")
        counts = {
            "characters": len(value),
            "words": len(value.split()),
            "lines": len(value.splitlines()),
            "bytes": len(value.encode("utf-8", "surrogatepass")),
        }
        return [
            TextMessage(text=str(counts[parameters["unit"]])),
            JsonMessage(json_object=counts),
            *(VariableMessage(name=unit, value=count) for unit, count in counts.items()),
        ]


class ChangeCaseTool(Tool):
    """``change_case``: upper, lower, title and sentence case, and the programmer's cases."""

    schema = ToolSchema(
        name="change_case",
        label="Change Case",
        description="Write a text in another case: upper, lower, title, sentence, snake_case, camelCase ...",
        llm_description="Change the case of a text.",
        parameters=[_TEXT, select_parameter("case", "Case", "The case to write the text in.", CASES, default="lower")],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        return change_case(checked_text(parameters, "text"), parameters["case"])


class TrimTool(Tool):
    """``trim``: remove whitespace (or given characters) from the ends of a text."""

    schema = ToolSchema(
        name="trim",
        label="Trim",
        description="Remove whitespace, or the given characters, from the start and/or end of a text.",
        llm_description="Remove whitespace (or the given characters) from the ends of a text.",
        parameters=[
            _TEXT,
            string_parameter(
                "characters", "Characters", "The characters to remove; empty: whitespace.", form=ToolParameterForm.FORM
            ),
            select_parameter(
                "side", "Side", "Which ends to trim.", {"both": "Both", "start": "Start", "end": "End"}, default="both"
            ),
        ],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        value = checked_text(parameters, "text")
        chars = unescape(parameters["characters"]) if "characters" in parameters else None
        side = parameters["side"]
        if side == "start":
            return value.lstrip(chars)
        if side == "end":
            return value.rstrip(chars)
        return value.strip(chars)


class ReplaceTool(Tool):
    """``replace``: replace a piece of text (not a pattern: see ``regex_replace``) everywhere or n times."""

    schema = ToolSchema(
        name="replace",
        label="Replace",
        description="Replace every occurrence (or the first n) of a piece of text.",
        llm_description="Replace occurrences of a literal piece of text with another text.",
        parameters=[
            _TEXT,
            string_parameter("find", "Find", "The text to look for (taken literally).", required=True),
            string_parameter("replacement", "Replacement", "The text to put in its place (empty removes it)."),
            number_parameter(
                "count",
                "Count",
                "How many occurrences to replace, from the start; 0 replaces all.",
                default=0,
                minimum=0,
                precision=0,
            ),
            boolean_parameter("case_sensitive", "Case sensitive", "Match upper and lower case exactly.", default=True),
        ],
        output_schema={"type": "object", "properties": {"replacements": {"type": "integer"}}},
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        value = checked_text(parameters, "text")
        find, replacement, count = parameters["find"], parameters.get("replacement", ""), parameters["count"]
        if parameters["case_sensitive"]:
            occurrences = value.count(find)
            result = value.replace(find, replacement, count or -1)
            done = min(occurrences, count) if count else occurrences
        else:
            # A literal pattern cannot backtrack, so no timeout is needed.
            result, done = regex.subn(
                regex.escape(find), lambda _m: replacement, value, count=count, flags=regex.IGNORECASE
            )
        return [TextMessage(text=result), VariableMessage(name="replacements", value=done)]


class SplitTool(Tool):
    """``split``: a text cut at a separator, as a list."""

    schema = ToolSchema(
        name="split",
        label="Split",
        description="Split a text into a list at a separator.",
        llm_description="Split a text into a list of parts at a separator (\\n for lines).",
        parameters=[
            _TEXT,
            string_parameter(
                "separator", "Separator", "Where to cut; \\n is a line break (the default).", default="\\n"
            ),
            number_parameter(
                "max_splits",
                "Max splits",
                "Cut at most this many times; 0: no limit.",
                default=0,
                minimum=0,
                precision=0,
            ),
            boolean_parameter("trim_items", "Trim items", "Remove whitespace around each part.", default=False),
            boolean_parameter("remove_empty", "Remove empty", "Leave out empty parts.", default=False),
        ],
        output_schema={"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string"}}}},
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        value = checked_text(parameters, "text")
        separator = unescape(parameters["separator"])
        items = value.split(separator, parameters["max_splits"] or -1)
        if parameters["trim_items"]:
            items = [item.strip() for item in items]
        if parameters["remove_empty"]:
            items = [item for item in items if item]
        return [
            TextMessage(text=json.dumps(items, ensure_ascii=False)),
            JsonMessage(json_object=items),
            VariableMessage(name="items", value=items),
        ]


#: Longest text ``join`` makes.
MAX_JOINED = 10_000_000


class JoinTool(Tool):
    """``join``: list items joined into one text."""

    schema = ToolSchema(
        name="join",
        label="Join",
        description="Join the items of a list into one text, with a separator between them.",
        llm_description="Join a list (a JSON array) into one text with a separator.",
        parameters=[
            ToolParameter(
                name="items",
                type=ToolParameterType.ARRAY,
                label="Items",
                required=True,
                human_description="The list to join (or its JSON text). Items that are not text are written as JSON.",
                llm_description="The list to join, as a JSON array.",
            ),
            string_parameter(
                "separator", "Separator", "What goes between items, such as ', ' (\\n is a line break); empty: nothing."
            ),
        ],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        separator = unescape(parameters.get("separator", ""))
        items = [
            item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in parameters["items"]
        ]
        joined = separator.join(items)
        if len(joined) > MAX_JOINED:
            raise invalid_parameter(
                "items", f"the joined text would be {len(joined)} characters long; the limit is {MAX_JOINED}"
            )
        return joined


class SubstringTool(Tool):
    """``substring``: the characters from ``start`` up to (not including) ``end``; negative positions
    count from the end, as in Python."""

    schema = ToolSchema(
        name="substring",
        label="Substring",
        description="The part of a text between two character positions.",
        llm_description=(
            "Get part of a text: characters from start (0 is the first) up to, not including, end. "
            "Negative positions count from the end; an empty end means the end of the text."
        ),
        parameters=[
            _TEXT,
            number_parameter(
                "start",
                "Start",
                "Position of the first character (0-based; negative counts from the end).",
                default=0,
                precision=0,
            ),
            number_parameter(
                "end", "End", "Position after the last character; empty: the end of the text.", precision=0
            ),
        ],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        value = checked_text(parameters, "text")
        return value[parameters["start"] : parameters.get("end")]
