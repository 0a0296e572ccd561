"""Regular expression tools: ``regex_extract``, ``regex_replace``, ``regex_match``.

Expressions are Python's syntax, run by the ``regex`` package, whose matching can be given a time
limit: an expression that backtracks catastrophically (``(a+)+$`` on a long run of ``a``) is stopped
after :data:`REGEX_TIMEOUT` seconds and refused with a clear error instead of holding a worker. The
expression's length is capped too, and so is the number of matches collected.

``regex_extract`` keeps Dify's ``regex`` tool's names (``content``, ``expression``) and its text
output (the Python form of ``re.findall``'s list), so Dify DSL files that use it run unchanged; the
``json`` output adds each match's position and groups.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import regex
from treadle_sdk.context import CallContext
from treadle_sdk.extensions import Tool
from treadle_sdk.schemas import ToolParameterForm, ToolSchema
from treadle_sdk.tool_parameters import invalid_parameter, number_parameter, select_parameter, string_parameter
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

from .parameters import checked_text

__all__ = [
    "FLAGS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_MATCHES",
    "REGEX_TIMEOUT",
    "RegexExtractTool",
    "RegexMatchTool",
    "RegexReplaceTool",
    "compile_expression",
]

#: Seconds one tool call may spend matching.
REGEX_TIMEOUT = 2.0
#: Longest expression accepted, in characters.
MAX_EXPRESSION_LENGTH = 2000
#: Matches ``regex_extract`` collects at most; the json output says when there were more.
MAX_MATCHES = 10_000

#: Flag letters and what they switch on.
FLAGS = {
    "i": regex.IGNORECASE,
    "m": regex.MULTILINE,
    "s": regex.DOTALL,
    "x": regex.VERBOSE,
    "a": regex.ASCII,
}

_CONTENT = string_parameter("content", "Content", "The text to search (it may be empty).")
_EXPRESSION = string_parameter(
    "expression", "Expression", "A regular expression in Python's syntax, such as '(\\d{4})-(\\d{2})'.", required=True
)
_FLAGS = string_parameter(
    "flags",
    "Flags",
    "Letters switching options on: i (ignore case), m (^ and $ at every line), s (. matches line breaks), "
    "x (verbose), a (ASCII-only \\w, \\d, \\s).",
    form=ToolParameterForm.FORM,
)


def compile_expression(expression: str, flags: str = "") -> regex.Pattern[str]:
    """``expression`` compiled with the flag letters ``flags``; refusals name the parameter and, for
    syntax errors, the position."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise invalid_parameter(
            "expression", f"the expression is {len(expression)} characters long; the limit is {MAX_EXPRESSION_LENGTH}"
        )
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise invalid_parameter(
            "flags",
            f"unknown flag(s) {', '.join(map(repr, unknown))}; use letters from {''.join(FLAGS)!r}",
        )
    options = 0
    for letter in flags:
        options |= FLAGS[letter]
    try:
        return regex.compile(expression, options)
    except regex.error as exc:
        # The stubs leave out what regex.error carries, as re.error does: msg and pos.
        position: int | None = getattr(exc, "pos", None)
        message: str = getattr(exc, "msg", str(exc))
        where = f" at position {position + 1}" if position is not None else ""
        raise invalid_parameter(
            "expression", f"not a valid regular expression: {message}{where}", position=position
        ) from None
    except (ValueError, OverflowError, RecursionError) as exc:
        raise invalid_parameter("expression", f"not a valid regular expression: {exc}") from None


def _too_slow() -> Exception:
    return invalid_parameter(
        "expression",
        f"matching took longer than {REGEX_TIMEOUT:g} s and was stopped; the expression probably backtracks "
        "catastrophically (nested repetition such as '(a+)+'): make it more specific",
        timeout=REGEX_TIMEOUT,
    )


def _groups(match: regex.Match[str]) -> list[str | None]:
    return list(match.groups())


def _describe(match: regex.Match[str]) -> dict[str, Any]:
    return {
        "match": match.group(0),
        "start": match.start(),
        "end": match.end(),
        "groups": _groups(match),
        "named": match.groupdict(),
    }


def _found(match: regex.Match[str], groups: int) -> Any:
    """What ``re.findall`` lists for a match: the whole match, the one group, or all groups."""
    if groups == 0:
        return match.group(0)
    if groups == 1:
        return match.group(1) or ""
    return tuple(g or "" for g in match.groups())


def _finditer(pattern: regex.Pattern[str], content: str) -> Iterator[regex.Match[str]]:
    deadline = time.monotonic() + REGEX_TIMEOUT
    try:
        for match in pattern.finditer(content, timeout=REGEX_TIMEOUT):
            if time.monotonic() > deadline:
                raise _too_slow()
            yield match
    except TimeoutError:
        raise _too_slow() from None


class RegexExtractTool(Tool):
    """``regex_extract``: every match of an expression in a text, with its groups."""

    schema = ToolSchema(
        name="regex_extract",
        label="Regex Extract",
        description="Extract every match of a regular expression from a text.",
        llm_description=(
            "Find all matches of a regular expression in a text. Returns the list of matches (or of the groups, "
            "when the expression has groups), and in json each match with its position and groups."
        ),
        parameters=[_CONTENT, _EXPRESSION, _FLAGS],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        content = checked_text(parameters, "content")
        pattern = compile_expression(parameters["expression"], parameters.get("flags", ""))
        found: list[Any] = []
        matches: list[dict[str, Any]] = []
        truncated = False
        for match in _finditer(pattern, content):
            if len(matches) == MAX_MATCHES:
                truncated = True
                break
            found.append(_found(match, pattern.groups))
            matches.append(_describe(match))
        summary = {"count": len(matches), "truncated": truncated, "matches": matches}
        return [TextMessage(text=str(found)), JsonMessage(json_object=summary)]


class RegexReplaceTool(Tool):
    """``regex_replace``: replace the matches of an expression; the replacement may refer to groups."""

    schema = ToolSchema(
        name="regex_replace",
        label="Regex Replace",
        description="Replace the matches of a regular expression in a text.",
        llm_description=(
            "Replace matches of a regular expression. In the replacement, \\1 or \\g<1> is the first group and "
            "\\g<name> a named group."
        ),
        parameters=[
            _CONTENT,
            _EXPRESSION,
            string_parameter("replacement", "Replacement", "What replaces each match: \\1 or \\g<name> insert groups."),
            number_parameter(
                "count",
                "Count",
                "How many matches to replace, from the start; 0 replaces all.",
                default=0,
                minimum=0,
                precision=0,
            ),
            _FLAGS,
        ],
        output_schema={"type": "object", "properties": {"replacements": {"type": "integer"}}},
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        content = checked_text(parameters, "content")
        pattern = compile_expression(parameters["expression"], parameters.get("flags", ""))
        replacement = parameters.get("replacement", "")
        try:
            result, done = pattern.subn(replacement, content, count=parameters["count"], timeout=REGEX_TIMEOUT)
        except TimeoutError:
            raise _too_slow() from None
        except (regex.error, IndexError) as exc:
            raise invalid_parameter("replacement", f"not a valid replacement for this expression: {exc}") from None
        return [TextMessage(text=result), JsonMessage(json_object={"result": result, "replacements": done})]


class RegexMatchTool(Tool):
    """``regex_match``: whether a text matches an expression (anywhere, or as a whole), and how."""

    schema = ToolSchema(
        name="regex_match",
        label="Regex Match",
        description="Check whether a text matches a regular expression.",
        llm_description="Check whether a text contains (or, with mode 'full', entirely is) a match of an expression.",
        parameters=[
            _CONTENT,
            _EXPRESSION,
            select_parameter(
                "mode",
                "Mode",
                "'search': a match anywhere; 'full': the whole text must match.",
                {"search": "Anywhere in the text", "full": "The whole text"},
                default="search",
            ),
            _FLAGS,
        ],
        output_schema={"type": "object", "properties": {"matched": {"type": "boolean"}}},
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        content = checked_text(parameters, "content")
        pattern = compile_expression(parameters["expression"], parameters.get("flags", ""))
        attempt = pattern.fullmatch if parameters["mode"] == "full" else pattern.search
        try:
            match = attempt(content, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            raise _too_slow() from None
        detail: dict[str, Any] = {"matched": match is not None}
        if match is not None:
            detail.update(_describe(match))
        return [TextMessage(text="true" if match else "false"), JsonMessage(json_object=detail)]
