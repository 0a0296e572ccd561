"""From a reply to the chunks a model streams: reasoning, stop sequences, max_tokens, usage.

Tokens are words (runs of non-whitespace), which keeps every count deterministic and easy to check
by hand. A reply streams one word per chunk, each with the whitespace after it, so the chunks
joined give the reply exactly; reasoning streams the same way, before the content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from treadle_sdk.model_pricing import llm_usage
from treadle_sdk.model_runtime import (
    AssistantMessage,
    LLMDelta,
    LLMResultChunk,
    LLMUsage,
    PromptMessage,
    PromptMessageTool,
    ToolCall,
)
from treadle_sdk.schemas import ModelPricing

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
    """What the model answers: reasoning, content, then tool calls; ``delay_ms`` paces streaming."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    delay_ms: int = 0
    reasoning: str = ""

    def limited(self, stop: list[str], max_tokens: int | None) -> tuple[Reply, str]:
        """The reply as generation would end it, and the finish reason.

        Content comes before tool calls, so when a stop sequence or ``max_tokens`` ends the content
        early the tool calls are never produced. Both apply to the content only: the reasoning is
        kept whole.
        """
        hits = [i for i in (self.content.find(s) for s in stop if s) if i != -1]
        if hits:
            return Reply(self.content[: min(hits)], [], self.delay_ms, self.reasoning), "stop"
        if max_tokens is not None and count_words(self.content) > max_tokens:
            kept = "".join(split_words(self.content)[:max_tokens]).rstrip()
            return Reply(kept, [], self.delay_ms, self.reasoning), "length"
        return self, "tool_calls" if self.tool_calls else "stop"

    def usage(self, prompt: int, pricing: ModelPricing | None = None) -> LLMUsage:
        """Words of the reasoning, the content and the tool calls, priced; latency is 0 so that
        usage is deterministic too."""
        completion = count_words(self.reasoning) + count_words(self.content) + sum(
            count_words(call.function.name) + count_words(call.function.arguments) for call in self.tool_calls
        )
        return llm_usage(pricing, prompt, completion)

    def chunks(
        self, model: str, finish_reason: str, prompt: int, stream: bool, pricing: ModelPricing | None = None
    ) -> list[LLMResultChunk]:
        """The chunks to send: a word each when streaming (reasoning first), else one; the last
        carries tool calls, usage and the finish reason."""
        if stream:
            pieces = [(text, "") for text in split_words(self.reasoning)]
            pieces += [("", text) for text in split_words(self.content) or [""]]
        else:
            pieces = [(self.reasoning, self.content)]
        last = len(pieces) - 1
        return [
            LLMResultChunk(
                model=model,
                delta=LLMDelta(
                    index=index,
                    message=AssistantMessage(content=text, tool_calls=self.tool_calls if index == last else []),
                    reasoning=reasoning,
                    usage=self.usage(prompt, pricing) if index == last else None,
                    finish_reason=finish_reason if index == last else None,
                ),
            )
            for index, (reasoning, text) in enumerate(pieces)
        ]
