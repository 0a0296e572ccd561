"""Reading the Messages API's answers: server-sent events as they stream, or one JSON message.

:class:`MessageAssembler` turns events into :class:`LLMResultChunk`: text deltas as they come (and
extended thinking as ``reasoning``), and the tool calls (arguments as JSON text), usage and finish
reason on the last chunk.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from treadle_sdk.model_errors import InvokeError, InvokeServerUnavailableError
from treadle_sdk.model_runtime import AssistantMessage, LLMDelta, LLMResultChunk, LLMUsage, ToolCall, ToolCallFunction

from .api_errors import error_from_event

__all__ = ["FINISH_REASONS", "MessageAssembler", "SSEEvent", "read_events", "truncated"]

#: Anthropic's ``stop_reason`` → the finish reason Treadle (and Dify) use.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "pause_turn": "stop",
    "refusal": "content_filter",
}


@dataclass(slots=True)
class SSEEvent:
    """One server-sent event: its name and its JSON data."""

    event: str
    data: Any


async def read_events(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """The events of an SSE stream given line by line (however the bytes were split on the wire)."""
    name = ""
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                yield SSEEvent(name or "message", _json("\n".join(data)))
            name, data = "", []
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
    if data:
        yield SSEEvent(name or "message", _json("\n".join(data)))


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvokeServerUnavailableError(f"Anthropic sent an event whose data is not JSON: {text[:200]!r}") from None


@dataclass(slots=True)
class _ToolUse:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)
    #: A ``tool_use`` block of a non-streamed answer carries its input whole.
    input: Any = None

    def call(self) -> ToolCall:
        text = "".join(self.arguments) if self.input is None else json.dumps(self.input, ensure_ascii=False)
        return ToolCall(id=self.id, function=ToolCallFunction(name=self.name, arguments=text or "{}"))


@dataclass(slots=True)
class MessageAssembler:
    """Collects one answer's events and makes the chunks the provider yields."""

    model: str
    #: Usage (with prices) from the prompt and completion token counts.
    usage_of: Callable[[int, int], LLMUsage]
    secret: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    index: int = 0
    tools: dict[int, _ToolUse] = field(default_factory=dict)
    done: bool = False

    def feed(self, event: SSEEvent) -> LLMResultChunk | None:
        """The chunk ``event`` makes (a text delta), if any; raises the mapped error on ``error``."""
        data = event.data if isinstance(event.data, dict) else {}
        if event.event == "error":
            raise error_from_event(data, model=self.model, secret=self.secret)
        if event.event == "message_start":
            self._usage(data.get("message", {}).get("usage", {}))
        elif event.event == "content_block_start":
            block = data.get("content_block", {})
            if block.get("type") == "tool_use":
                self.tools[int(data.get("index", len(self.tools)))] = _ToolUse(block["id"], block["name"])
            elif block.get("type") == "text" and block.get("text"):
                return self._text(block["text"])
            elif block.get("type") == "thinking" and block.get("thinking"):
                return self._thinking(block["thinking"])
        elif event.event == "content_block_delta":
            delta = data.get("delta", {})
            if delta.get("type") == "text_delta":
                return self._text(delta.get("text", ""))
            if delta.get("type") == "thinking_delta":
                return self._thinking(delta.get("thinking", ""))
            if delta.get("type") == "input_json_delta":
                tool = self.tools.get(int(data.get("index", -1)))
                if tool is not None:
                    tool.arguments.append(delta.get("partial_json", ""))
        elif event.event == "message_delta":
            self.stop_reason = data.get("delta", {}).get("stop_reason") or self.stop_reason
            self._usage(data.get("usage", {}))
        elif event.event == "message_stop":
            self.done = True
        # ping, content_block_stop, signature_delta (it proves the thinking to the API, which we do not
        # send back), redacted_thinking blocks (encrypted) and unknown events change nothing.
        return None

    def feed_message(self, message: dict[str, Any]) -> LLMResultChunk:
        """The one chunk of a non-streamed answer."""
        self._usage(message.get("usage", {}))
        self.stop_reason = message.get("stop_reason")
        texts: list[str] = []
        thoughts: list[str] = []
        for i, block in enumerate(message.get("content", [])):
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "thinking":
                thoughts.append(block.get("thinking", ""))
            elif block.get("type") == "tool_use":
                self.tools[i] = _ToolUse(block["id"], block["name"], input=block.get("input", {}))
        return self.final("".join(texts), "".join(thoughts))

    def final(self, text: str = "", reasoning: str = "") -> LLMResultChunk:
        """The last chunk: tool calls, usage and the finish reason."""
        calls = [self.tools[i].call() for i in sorted(self.tools)]
        reason = FINISH_REASONS.get(self.stop_reason or "end_turn", self.stop_reason or "stop")
        usage = self.usage_of(self.input_tokens, self.output_tokens)
        return self._chunk(AssistantMessage(content=text, tool_calls=calls), usage, reason, reasoning)

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        prompt = sum(int(usage.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens",
                                                      "cache_read_input_tokens"))
        # message_delta's usage is cumulative, and may repeat the input counts or leave them out.
        if prompt:
            self.input_tokens = prompt
        if usage.get("output_tokens") is not None:
            self.output_tokens = int(usage["output_tokens"])

    def _text(self, text: str) -> LLMResultChunk | None:
        if not text:
            return None
        return self._chunk(AssistantMessage(content=text), None, None)

    def _thinking(self, text: str) -> LLMResultChunk | None:
        if not text:
            return None
        return self._chunk(AssistantMessage(), None, None, text)

    def _chunk(
        self, message: AssistantMessage, usage: LLMUsage | None, reason: str | None, reasoning: str = ""
    ) -> LLMResultChunk:
        delta = LLMDelta(index=self.index, message=message, reasoning=reasoning, usage=usage, finish_reason=reason)
        chunk = LLMResultChunk(model=self.model, delta=delta)
        self.index += 1
        return chunk


def truncated(model: str) -> InvokeError:
    """The error for a stream that ended before ``message_stop``."""
    return InvokeServerUnavailableError(f"Anthropic's stream for model {model!r} ended before message_stop")
