"""Structured output (NODE-LLM "Structured Output"): the model answers with a JSON object that
follows the node's JSON Schema, and the node outputs it as ``structured_output``.

A model that supports JSON-schema output natively gets the schema as model parameters
(``response_format: json_schema`` and ``json_schema`` holding ``{name, schema}``, the way the
OpenAI-compatible provider sends them). Any other model gets the schema in its system prompt, and
``response_format: json_object`` when it offers that. Either way the answer's text is parsed
forgivingly (fences, prose and ``<think>`` blocks around the object are ignored).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole
from treadle_sdk.nodes import NodeRunError

from .json_text import find_json_object
from .prompting import Capabilities

__all__ = ["parameters_for", "parse_structured_output", "prompt_with_schema"]

_INSTRUCTIONS = """Reply with one JSON object and nothing else: no explanation, no Markdown code fence.
The object must be valid JSON and must follow this JSON Schema:
{schema}
Use exactly the property names of the schema, fill in every required property, and use the types the
schema gives (strings quoted, numbers and booleans bare)."""


def parameters_for(
    parameters: Mapping[str, Any], schema: Mapping[str, Any], capabilities: Capabilities
) -> dict[str, Any]:
    """The model parameters of a structured call: the node's, plus the output format."""
    sent = dict(parameters)
    formats = capabilities.response_formats
    if capabilities.structured_output:
        sent["json_schema"] = json.dumps({"name": "llm_response", "schema": schema}, ensure_ascii=False)
        # A model that lists its formats must list json_schema; one that lists none is told anyway.
        if not formats or "json_schema" in formats:
            sent["response_format"] = "json_schema"
    elif "json_object" in formats:
        sent["response_format"] = "json_object"
    elif "JSON" in formats:
        sent["response_format"] = "JSON"
    return sent


def prompt_with_schema(
    messages: Sequence[PromptMessage], schema: Mapping[str, Any], capabilities: Capabilities
) -> list[PromptMessage]:
    """The prompt of a structured call: unchanged for native support, else the schema instructions
    open the (first) system message, which moves to the front."""
    if capabilities.structured_output:
        return list(messages)
    instructions = _INSTRUCTIONS.format(schema=json.dumps(schema, ensure_ascii=False))
    system = next((m for m in messages if m.role == PromptMessageRole.SYSTEM), None)
    if system is not None and system.text():
        instructions = f"{instructions}\n\n{system.text()}"
    rest = [m for m in messages if m is not system]
    return [PromptMessage(role=PromptMessageRole.SYSTEM, content=instructions), *rest]


def parse_structured_output(text: str) -> dict[str, Any]:
    """The JSON object of the answer; a node error (Dify's ``LLMNodeError``) when there is none."""
    found = find_json_object(text)
    if found is None:
        shown = text if len(text) <= 200 else text[:200] + "..."
        raise NodeRunError(
            f"failed to parse structured output: the model's answer holds no JSON object: {shown!r}",
            error_type="LLMNodeError",
        )
    return found
