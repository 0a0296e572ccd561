"""The ``json`` model's answers: the smallest predictable JSON value that fits a JSON schema.

The schema comes from the call, as an LLM node with structured output sends it: the ``json_schema``
model parameter (JSON text or an object, bare or in OpenAI's ``{"name", "schema"}`` wrapper), or a
``response_format`` object of type ``json_schema``. Without one, the last schema-like JSON object in
the prompt is used (nodes that put the schema in the prompt for models without native support).
Without any, the answer is ``{"text": <the last user message>}``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole

__all__ = ["answer", "find_schema", "sample"]

#: Nesting deeper than this is taken to be a recursive schema.
MAX_DEPTH = 32

_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
_FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
}


def _unwrap(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema inside OpenAI's ``{"name": ..., "schema": {...}, "strict": ...}`` wrapper."""
    inner = schema.get("schema")
    if isinstance(inner, dict) and "type" not in schema and "properties" not in schema:
        return inner
    return schema


def _parameter_schema(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise PluginInvalidArgument(f"{where} is not valid JSON: {exc}", details={"field": where}) from None
    if not isinstance(value, dict):
        raise PluginInvalidArgument(
            f"{where} must be a JSON schema object, not {type(value).__name__}", details={"field": where}
        )
    return _unwrap(value)


def _looks_like_schema(value: Any) -> bool:
    return isinstance(value, dict) and (isinstance(value.get("properties"), dict) or value.get("type") in _TYPES)


def _schema_in_text(text: str) -> dict[str, Any] | None:
    """The last top-level JSON object in ``text`` that looks like a JSON schema."""
    decoder = json.JSONDecoder()
    found = None
    at = text.find("{")
    while at != -1:
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            at = text.find("{", at + 1)
            continue
        if _looks_like_schema(value):
            found = value
        at = text.find("{", end)
    return found


def find_schema(model_parameters: dict[str, Any], messages: list[PromptMessage]) -> dict[str, Any] | None:
    """The JSON schema the answer must follow, from the parameters or else the prompt."""
    if model_parameters.get("json_schema") not in (None, ""):
        return _parameter_schema(model_parameters["json_schema"], "model_parameters.json_schema")
    response_format = model_parameters.get("response_format")
    if isinstance(response_format, dict) and response_format.get("json_schema") is not None:
        return _parameter_schema(response_format["json_schema"], "model_parameters.response_format.json_schema")
    for message in reversed(messages):
        schema = _schema_in_text(message.text())
        if schema is not None:
            return _unwrap(schema)
    return None


class _Sampler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def resolve(self, ref: str, where: str) -> Any:
        if not ref.startswith("#"):
            raise PluginInvalidArgument(
                f"{where}: only local references ('#/...') are supported, not {ref!r}", details={"field": where}
            )
        node: Any = self.root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise PluginInvalidArgument(f"{where}: reference {ref!r} leads nowhere", details={"field": where})
            node = node[part]
        return node

    def value(self, schema: Any, name: str, where: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise PluginInvalidArgument(
                f"{where}: the schema nests more than {MAX_DEPTH} levels deep (a reference that recurses "
                "without an optional way out?)",
                details={"field": where},
            )
        if schema is True or schema is None:
            return name
        if schema is False or not isinstance(schema, dict):
            raise PluginInvalidArgument(f"{where}: no value fits the schema {schema!r}", details={"field": where})
        if "$ref" in schema:
            return self.value(self.resolve(str(schema["$ref"]), where), name, where, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                # A nullable field's real type is more telling than its null.
                chosen = next((o for o in options if not (isinstance(o, dict) and o.get("type") == "null")), options[0])
                return self.value(chosen, name, f"{where}.{key}", depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(str(part["$ref"]), where) if isinstance(part, dict) and "$ref" in part else part
                if isinstance(part, dict):
                    properties = {**merged.get("properties", {}), **part.get("properties", {})}
                    required = [*merged.get("required", []), *part.get("required", [])]
                    merged = {**part, **merged, "properties": properties, "required": required}
            return self.value(merged, name, where, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            return self.object(schema, where, depth)
        if kind == "array":
            return self.array(schema, name, where, depth)
        if kind == "string":
            return _string(schema, name)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer")
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        raise PluginInvalidArgument(f"{where}: unknown type {kind!r}", details={"field": where})

    def object(self, schema: dict[str, Any], where: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        out = {key: self.value(sub, key, f"{where}.{key}", depth + 1) for key, sub in properties.items()}
        for key in schema.get("required") or []:
            out.setdefault(key, key)
        return out

    def array(self, schema: dict[str, Any], name: str, where: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [self.value(sub, name, f"{where}[{i}]", depth + 1) for i, sub in enumerate(prefix)]
        # One item shows the shape an empty list would hide, unless the schema forbids it.
        count = max(int(schema.get("minItems") or 0), 1)
        if schema.get("maxItems") is not None:
            count = min(count, int(schema["maxItems"]))
        return [self.value(schema.get("items", True), name, f"{where}[{i}]", depth + 1) for i in range(count)]


def _string(schema: dict[str, Any], name: str) -> str:
    text = _FORMATS.get(str(schema.get("format")), name)
    low, high = int(schema.get("minLength") or 0), schema.get("maxLength")
    text = text.ljust(low, "x")
    return text if high is None else text[: int(high)]


def _number(schema: dict[str, Any], whole: bool) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    # Draft 4 wrote exclusive bounds as flags that make minimum / maximum exclusive.
    if isinstance(above, bool):
        above, low = (low, None) if above else (None, low)
    if isinstance(below, bool):
        below, high = (high, None) if below else (None, high)

    def fits(value: float) -> bool:
        return (
            (low is None or value >= low)
            and (above is None or value > above)
            and (high is None or value <= high)
            and (below is None or value < below)
        )

    candidates: list[float] = [0]
    if low is not None:
        candidates.append(math.ceil(low) if whole else low)
    if above is not None:
        candidates.append(math.floor(above) + 1 if whole else above + 1)
    if high is not None:
        candidates.append(math.floor(high) if whole else high)
    if below is not None:
        candidates.append(math.ceil(below) - 1 if whole else below - 1)
    if not whole and above is not None and below is not None:
        candidates.append((above + below) / 2)
    value = next((c for c in candidates if fits(c)), candidates[-1])
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0 and value % step:
        value = math.ceil(value / step) * step
    if whole or float(value).is_integer():
        return int(value)
    return float(value)


def sample(schema: dict[str, Any]) -> Any:
    """The value the ``json`` model answers for ``schema``: every declared property, one array item,
    the first enum option or ``anyOf``/``oneOf`` branch, 0 or the lowest allowed number, ``false``,
    and strings that are the property's name (or a placeholder for a ``format``), padded or cut to
    the length limits. ``pattern`` is not followed."""
    try:
        return _Sampler(schema).value(schema, "value", "json_schema", 0)
    except (TypeError, ValueError, AttributeError) as exc:
        # A keyword of the wrong shape ("minItems": "two", "properties": []).
        raise PluginInvalidArgument(
            f"json_schema is malformed: {exc}", details={"field": "model_parameters.json_schema"}
        ) from None


def answer(model_parameters: dict[str, Any], messages: list[PromptMessage]) -> str:
    """The JSON text the ``json`` model replies with."""
    schema = find_schema(model_parameters, messages)
    if schema is None:
        users = [m for m in messages if m.role == PromptMessageRole.USER]
        value: Any = {"text": users[-1].text() if users else ""}
    else:
        value = sample(schema)
    return json.dumps(value, ensure_ascii=False)
