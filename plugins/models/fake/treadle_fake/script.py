"""Scripts: the replies the ``script`` model gives, one per turn of a conversation.

A script is a JSON list (or the JSON text of one). Each reply is a string, or an object
``{"content": ..., "reasoning": ..., "tool_calls": [{"name": ..., "arguments": {...}}], "delay_ms": ...}``.
The reply for a call is chosen by the number of assistant messages already in the prompt, so the
same prompt always gets the same reply and nothing is kept between calls.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole

__all__ = ["MAX_DELAY_MS", "ScriptedReply", "ScriptedToolCall", "find_script", "parse_script", "turn_of"]

#: Longest pause a reply may ask for before each of its chunks.
MAX_DELAY_MS = 10_000


class ScriptedToolCall(BaseModel):
    """A tool call the model makes. ``arguments`` as a string is sent verbatim, even if not JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    # A string lets a script send malformed arguments, to test how callers cope with them.
    arguments: dict[str, Any] | str = Field(default_factory=dict)

    @field_validator("arguments", mode="before")
    @classmethod
    def _object_or_text(cls, value: Any) -> Any:
        # Checked here so the error names the field, not each member of the union.
        if not isinstance(value, dict | str):
            raise ValueError(f"arguments must be a JSON object or a string, not {type(value).__name__}")
        return value

    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class ScriptedReply(BaseModel):
    """One reply of a script: reasoning, text, tool calls, and an optional pause before each streamed chunk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content: str = ""
    #: Thinking the model shows apart from its answer (``reasoning_content``), streamed before it.
    reasoning: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    delay_ms: int = Field(default=0, ge=0, le=MAX_DELAY_MS)

    @model_validator(mode="before")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"content": value}
        if not isinstance(value, dict | ScriptedReply):
            raise ValueError(f"a reply is a string or an object, not {type(value).__name__}")
        return value


_SCRIPT = TypeAdapter(list[ScriptedReply])


def parse_script(raw: Any, source: str) -> list[ScriptedReply]:
    """The replies of a script; ``source`` names where it came from, for error messages."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PluginInvalidArgument(f"{source} is not valid JSON: {exc}", details={"field": source}) from None
    try:
        script = _SCRIPT.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = source + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
        raise PluginInvalidArgument(
            f"{where}: {first['msg']} (a script is a list of replies, each a string or an object "
            '{"content": ..., "reasoning": ..., "tool_calls": [{"name": ..., "arguments": {...}}], "delay_ms": ...})',
            details={"field": where, "errors": exc.error_count()},
        ) from None
    if not script:
        raise PluginInvalidArgument(f"{source} is empty: give at least one reply", details={"field": source})
    return script


def find_script(model_parameters: dict[str, Any], credentials: dict[str, Any]) -> list[ScriptedReply]:
    """The script of a call: from ``model_parameters`` (per call) before ``credentials`` (per provider)."""
    if model_parameters.get("script") is not None:
        return parse_script(model_parameters["script"], "model_parameters.script")
    if credentials.get("script") is not None:
        return parse_script(credentials["script"], "credentials.script")
    raise PluginInvalidArgument(
        "the script model needs a script: a JSON list of replies in model_parameters.script "
        "or in the provider credential 'script'",
        details={"field": "model_parameters.script"},
    )


def turn_of(messages: list[PromptMessage]) -> int:
    """Which turn a prompt asks for: the number of assistant messages it already holds."""
    return sum(1 for message in messages if message.role == PromptMessageRole.ASSISTANT)
