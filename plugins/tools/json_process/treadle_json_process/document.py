"""JSON documents and JSONPath queries, as the json_process tools read and write them.

Queries are JSONPath in jsonpath-ng's extended dialect (the library Dify's json_process uses, with
filters such as ``items[?price > 10]`` on top): ``name``, ``$.a.b``, ``items[0]``, ``items[*].id``,
``$..id``. Everything a caller can get wrong is a :class:`PluginInvalidArgument` naming the parameter.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_jsonpath
from treadle_sdk.tool_parameters import invalid_parameter

__all__ = ["MAX_CONTENT_LENGTH", "compile_query", "decode_value", "dump", "load", "render"]

#: Longest JSON text accepted, in characters.
MAX_CONTENT_LENGTH = 10_000_000

# Models often wrap the JSON they were asked for in a Markdown code fence.
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)


def load(content: str, parameter: str = "content") -> Any:
    """The JSON value of ``content`` (a Markdown code fence around it is taken off)."""
    if len(content) > MAX_CONTENT_LENGTH:
        raise invalid_parameter(
            parameter, f"the JSON text is {len(content)} characters long; the limit is {MAX_CONTENT_LENGTH}"
        )
    fenced = _FENCE.match(content)
    text = fenced["body"] if fenced else content
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid_parameter(
            parameter,
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    except RecursionError:
        raise invalid_parameter(parameter, "the JSON is nested too deeply") from None


def compile_query(query: str, parameter: str = "query") -> JSONPath:
    """The JSONPath expression ``query``."""
    try:
        return parse_jsonpath(query.strip())
    except (JSONPathError, ValueError, TypeError, AttributeError) as exc:
        # The parser reports some syntax errors as other exceptions (an unknown operator, say).
        raise invalid_parameter(parameter, f"{query!r} is not a JSONPath expression: {exc}") from None


def decode_value(value: str, decode: bool, parameter: str) -> Any:
    """``value`` itself, or with ``decode`` the JSON value it is the text of."""
    if not decode:
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise invalid_parameter(parameter, f"value_decode is on, but the value is not JSON: {exc.msg}") from None


def dump(value: Any, ensure_ascii: bool) -> str:
    """Compact JSON text, as Dify's tools write it."""
    return json.dumps(value, ensure_ascii=ensure_ascii)


def render(value: Any, ensure_ascii: bool) -> str:
    """How a query result reads as text, as in Dify: objects and lists as JSON, strings as they are,
    other scalars as Python writes them (``True``, ``None``, ``1.5``), which workflows compare against."""
    if isinstance(value, dict | list):
        return dump(value, ensure_ascii)
    return str(value)
