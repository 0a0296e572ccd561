"""From a reply to the chunks a model streams: stop sequences, max_tokens, usage.

Tokens are words (runs of non-whitespace), which keeps every count deterministic and easy to check
by hand. A reply streams one word per chunk, each with the whitespace after it, so the chunks
joined give the reply exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from treadle_sdk.model_runtime import (
    AssistantMessage,
    LLMDelta,
    LLMResultChunk,
    LLMUsage,
    PromptMessage,
    PromptMessageTool,
    ToolCall,
)

__all__ = ["Reply", "count_words", "prompt_tokens", "split_words"]

_WORD = re.compile(r"\S+")
# A word with the whitespace around it; leading whitespace only ever matches at the start.
_PIECE = re.compile(r"\s*\S+\s*")


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def split_words(text: str) -> list[str]:
    """``text`` in word-sized pieces that join back to it (whitespace-only text is one piece)."""
    return _PIECE.findall(text) or ([text] if text else [])


def prompt_tokens(messages: list[PromptMessage], tools: list[PromptMessageTool]) -> int:
    """Words in the messages' text and tool calls, and in the offered tools' names and descriptions."""
    total = sum(count_words(message.text()) for message in messages)
    total += sum(
        count_words(call.function.name) + count_words(call.function.arguments)
        for message in messages
        for call in message.tool_calls
    )
    total += sum(count_words(tool.name) + count_words(tool.description) for tool in tools)
    return total


@dataclass(frozen=True)
class Reply:
    """What the model answers: content, then tool calls; ``delay_ms`` paces streaming."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    delay_ms: int = 0

    def limited(self, stop: list[str], max_tokens: int | None) -> tuple[Reply, str]:
        """The reply as generation would end it, and the finish reason.

        Content comes before tool calls, so when a stop sequence or ``max_tokens`` ends the content
        early the tool calls are never produced.
        """
        hits = [i for i in (self.content.find(s) for s in stop if s) if i != -1]
        if hits:
            return Reply(self.content[: min(hits)], [], self.delay_ms), "stop"
        if max_tokens is not None and count_words(self.content) > max_tokens:
            kept = "".join(split_words(self.content)[:max_tokens]).rstrip()
            return Reply(kept, [], self.delay_ms), "length"
        return self, "tool_calls" if self.tool_calls else "stop"

    def usage(self, prompt: int) -> LLMUsage:
        completion = count_words(self.content) + sum(
            count_words(call.function.name) + count_words(call.function.arguments) for call in self.tool_calls
        )
        return LLMUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)

    def chunks(self, model: str, finish_reason: str, prompt: int, stream: bool) -> list[LLMResultChunk]:
        """The chunks to send: a word each when streaming, else one; the last carries tool calls,
        usage and the finish reason."""
        contents = (split_words(self.content) if stream else [self.content]) or [""]
        last = len(contents) - 1
        return [
            LLMResultChunk(
                model=model,
                delta=LLMDelta(
                    index=index,
                    message=AssistantMessage(content=text, tool_calls=self.tool_calls if index == last else []),
                    usage=self.usage(prompt) if index == last else None,
                    finish_reason=finish_reason if index == last else None,
                ),
            )
            for index, text in enumerate(contents)
        ]
