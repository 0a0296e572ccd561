"""The ``json_process`` tool provider: ``parse``, ``json_insert``, ``json_replace``, ``json_delete``.

Provider, tool and parameter names are those of Dify's json_process (built-in, then the
``langgenius/json_process`` plugin), so Dify DSL files that use it run here. Each tool reads a JSON
text (``content``) and a JSONPath query; the editing tools answer with the whole edited document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonpath_ng import DatumInContext, Fields, JSONPath
from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import Tool, ToolProvider
from treadle_sdk.schemas import (
    ToolParameter,
    ToolParameterForm,
    ToolParameterOption,
    ToolParameterType,
    ToolProviderSchema,
    ToolSchema,
)
from treadle_sdk.tool_parameters import boolean_parameter, invalid_parameter, string_parameter
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

from .document import compile_query, decode_value, dump, load, render

__all__ = [
    "JsonDeleteTool",
    "JsonInsertTool",
    "JsonParseTool",
    "JsonProcessToolProvider",
    "JsonReplaceTool",
]

_QUERY_HELP = "A JSONPath query such as 'name', '$.items[0].id', 'items[*].price' or 'items[?price > 10]'."


_CONTENT = string_parameter("content", "JSON content", "The JSON text to process.", required=True)
_QUERY = string_parameter("query", "Query", _QUERY_HELP, required=True)
_ENSURE_ASCII = boolean_parameter(
    "ensure_ascii", "Ensure ASCII", "Write non-ASCII characters as \\u escapes in the JSON output.", default=True
)
_VALUE_DECODE = boolean_parameter(
    "value_decode",
    "Decode value",
    "Read the new value as JSON (an object, a list, a number), not as text.",
    default=False,
)


def _located(match: DatumInContext) -> str:
    return str(match.full_path)


def _matches(expression: JSONPath, data: Any, query: str) -> list[DatumInContext]:
    try:
        return list(expression.find(data))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Filters compare values of the document; some comparisons have no meaning (a string < 3).
        raise invalid_parameter("query", f"{query!r} cannot be applied to this document: {exc}") from None


def _document(data: Any, ensure_ascii: bool) -> Iterator[TextMessage | JsonMessage]:
    yield TextMessage(text=dump(data, ensure_ascii))
    if isinstance(data, dict | list):
        yield JsonMessage(json_object=data)


def _nothing_matched(query: str, hint: str = "") -> PluginInvalidArgument:
    return invalid_parameter("query", f"{query!r} matches nothing in the content{hint}")


class JsonParseTool(Tool):
    """``parse``: the values a JSONPath query selects (the whole document without a query)."""

    schema = ToolSchema(
        name="parse",
        label="JSON Parse",
        description="Extract values from JSON content with a JSONPath query.",
        llm_description=(
            "Extract a value from JSON text. json_filter is a JSONPath query such as 'name' or '$.items[0].id'; "
            "one match gives the value itself, several give a list."
        ),
        parameters=[
            _CONTENT,
            string_parameter("json_filter", "JSON filter", f"{_QUERY_HELP} Empty: the whole document."),
            _ENSURE_ASCII,
        ],
    )

    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> Iterator[TextMessage | JsonMessage]:
        data = load(parameters["content"])
        query = parameters.get("json_filter", "").strip()
        if query:
            found = [m.value for m in _matches(compile_query(query, "json_filter"), data, query)]
            data = found[0] if len(found) == 1 else found
        yield TextMessage(text=render(data, parameters["ensure_ascii"]))
        if isinstance(data, dict | list):
            yield JsonMessage(json_object=data)


class JsonInsertTool(Tool):
    """``json_insert``: add a value where a query points.

    Into a matched object the new value (an object) is merged; into a matched list it is appended, or
    inserted at ``index``; a matched scalar is replaced. When nothing matches, ``create_path`` creates
    the path (``$.a.b`` makes the objects on the way).
    """

    schema = ToolSchema(
        name="json_insert",
        label="JSON Insert",
        description="Insert a value into JSON content where a JSONPath query points.",
        llm_description=(
            "Insert a value into JSON text: merged into a matched object, appended to a matched list (or inserted "
            "at index), replacing a matched scalar. Returns the whole edited JSON."
        ),
        parameters=[
            _CONTENT,
            _QUERY,
            string_parameter(
                "new_value", "New value", "The value to insert (JSON when value_decode is on).", required=True
            ),
            ToolParameter(
                name="index",
                type=ToolParameterType.NUMBER,
                label="Index",
                precision=0,
                human_description="Where to insert into a list (0 is the front; negative counts from the end).",
                llm_description="Where to insert into a matched list; empty appends.",
            ),
            boolean_parameter(
                "create_path", "Create path", "Create the path when the query matches nothing.", default=False
            ),
            _VALUE_DECODE,
            _ENSURE_ASCII,
        ],
    )

    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> Iterator[TextMessage | JsonMessage]:
        data = load(parameters["content"])
        query = parameters["query"]
        expression = compile_query(query)
        value = decode_value(parameters["new_value"], parameters["value_decode"], "new_value")
        matches = _matches(expression, data, query)
        if not matches:
            if not parameters["create_path"]:
                raise _nothing_matched(query, " (turn on create_path to create it)")
            try:
                data = expression.update_or_create(data, value)
            except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
                raise invalid_parameter("query", f"cannot create the path {query!r}: {exc}") from None
            yield from _document(data, parameters["ensure_ascii"])
            return
        index = parameters.get("index")
        for match in matches:
            target = match.value
            if isinstance(target, dict):
                if not isinstance(value, dict):
                    raise invalid_parameter(
                        "new_value",
                        f"{_located(match)} is an object, so the new value must be an "
                        "object to merge into it (turn on value_decode to pass JSON)",
                    )
                target.update(value)
            elif isinstance(target, list):
                target.append(value) if index is None else target.insert(int(index), value)
            else:
                data = match.full_path.update(data, value)
        yield from _document(data, parameters["ensure_ascii"])


class JsonReplaceTool(Tool):
    """``json_replace``: change what a query points at.

    ``replace_model`` says what: ``pattern`` replaces the text ``replace_pattern`` inside matched
    strings, ``key`` renames matched object keys, ``value`` replaces matched values.
    """

    schema = ToolSchema(
        name="json_replace",
        label="JSON Replace",
        description="Replace text, keys or values of JSON content where a JSONPath query points.",
        llm_description=(
            "Replace in JSON text where a JSONPath query points: replace_model 'pattern' replaces replace_pattern "
            "inside matched strings, 'key' renames matched keys, 'value' replaces matched values."
        ),
        parameters=[
            _CONTENT,
            _QUERY,
            string_parameter("replace_pattern", "String to replace", "The text to replace (for 'pattern')."),
            string_parameter("replace_value", "Replace value", "The new text, key or value.", required=True),
            ToolParameter(
                name="replace_model",
                type=ToolParameterType.SELECT,
                label="Replace model",
                form=ToolParameterForm.FORM,
                required=True,
                default="pattern",
                options=[
                    ToolParameterOption(value="pattern", label="Replace text in strings"),
                    ToolParameterOption(value="key", label="Rename keys"),
                    ToolParameterOption(value="value", label="Replace values"),
                ],
                human_description="What to replace: text inside strings, keys, or whole values.",
                llm_description="'pattern', 'key' or 'value'.",
            ),
            _VALUE_DECODE,
            _ENSURE_ASCII,
        ],
    )

    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> Iterator[TextMessage | JsonMessage]:
        data = load(parameters["content"])
        query = parameters["query"]
        matches = _matches(compile_query(query), data, query)
        if not matches:
            raise _nothing_matched(query)
        mode, replacement = parameters["replace_model"], parameters["replace_value"]
        if mode == "pattern":
            pattern = parameters.get("replace_pattern", "")
            if not pattern:
                raise PluginInvalidArgument(
                    "parameter 'replace_pattern' is required when replace_model is 'pattern'",
                    details={"parameter": "replace_pattern"},
                )
            for match in matches:
                if isinstance(match.value, str):
                    data = match.full_path.update(data, match.value.replace(pattern, replacement))
        elif mode == "key":
            for match in matches:
                _rename(match, replacement)
        else:
            value = decode_value(replacement, parameters["value_decode"], "replace_value")
            for match in matches:
                data = match.full_path.update(data, value)
        yield from _document(data, parameters["ensure_ascii"])


def _rename(match: DatumInContext, new: str) -> None:
    parent = match.context.value if match.context is not None else None
    if not isinstance(match.path, Fields) or not isinstance(parent, dict):
        raise invalid_parameter("query", f"{_located(match)} is not a key of an object, so it cannot be renamed")
    (old,) = match.path.fields
    if new != old and new in parent:
        raise invalid_parameter("replace_value", f"cannot rename {old!r} to {new!r}: the object already has {new!r}")
    # Rebuilt in place so the key keeps its position.
    items = [(new if key == old else key, value) for key, value in parent.items()]
    parent.clear()
    parent.update(items)


class JsonDeleteTool(Tool):
    """``json_delete``: remove what a query points at (object keys, list items). Deleting what is not
    there leaves the document as it is."""

    schema = ToolSchema(
        name="json_delete",
        label="JSON Delete",
        description="Delete the keys or list items of JSON content a JSONPath query points at.",
        llm_description="Delete from JSON text what a JSONPath query points at. Returns the whole edited JSON.",
        parameters=[_CONTENT, _QUERY, _ENSURE_ASCII],
    )

    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> Iterator[TextMessage | JsonMessage]:
        data = load(parameters["content"])
        query = parameters["query"]
        expression = compile_query(query)
        if any(match.context is None for match in _matches(expression, data, query)):
            raise invalid_parameter("query", f"{query!r} selects the whole document, which cannot be deleted")
        data = expression.filter(lambda _value: True, data)
        yield from _document(data, parameters["ensure_ascii"])


class JsonProcessToolProvider(ToolProvider):
    """The ``json_process`` provider. Documents can be large, so its tools run in worker threads."""

    schema = ToolProviderSchema(
        name="json_process",
        author="treadle",
        label="JSON Process",
        description="Query and edit JSON content with JSONPath: parse, insert, replace and delete.",
        tags=["utilities"],
    )

    def __init__(self) -> None:
        self.tools = [JsonParseTool(), JsonInsertTool(), JsonReplaceTool(), JsonDeleteTool()]
