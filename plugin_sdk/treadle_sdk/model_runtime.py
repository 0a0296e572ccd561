"""What flows into and out of model calls: prompt messages, streamed chunks, usage, embeddings.

Shapes follow Dify's model runtime (PLUG-MODEL-MESSAGES) so provider code ports over unchanged.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AssistantMessage",
    "CountTokensArgs",
    "EmbeddingUsage",
    "ImageContent",
    "InvokeLLMArgs",
    "InvokeModerationArgs",
    "InvokeRerankArgs",
    "InvokeSpeech2TextArgs",
    "InvokeTTSArgs",
    "InvokeTextEmbeddingArgs",
    "LLMDelta",
    "LLMResultChunk",
    "LLMUsage",
    "PromptMessage",
    "PromptMessageRole",
    "PromptMessageTool",
    "RerankDocument",
    "RerankResult",
    "TTSChunk",
    "TextContent",
    "TextEmbeddingResult",
    "ToolCall",
    "ToolCallFunction",
    "ValidateModelCredentialsArgs",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptMessageRole(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class TextContent(_Wire):
    type: Literal["text"] = "text"
    data: str


class ImageContent(_Wire):
    type: Literal["image"] = "image"
    #: An URL or a ``data:`` URI with base64 content.
    data: str
    detail: Literal["low", "high"] = "low"


class ToolCallFunction(_Wire):
    name: str
    #: The arguments as the model produced them: a JSON text (it may be partial while streaming).
    arguments: str = ""


class ToolCall(_Wire):
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class PromptMessage(_Wire):
    """One message of a prompt. ``content`` is text or a list of text and image parts."""

    role: PromptMessageRole
    content: str | list[TextContent | ImageContent] | None = None
    name: str | None = None
    #: Set on assistant messages that called tools.
    tool_calls: list[ToolCall] = Field(default_factory=list)
    #: Set on tool messages: which call this message answers.
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text parts joined (images left out)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.data for part in self.content if isinstance(part, TextContent))


class PromptMessageTool(_Wire):
    """A tool offered to the model: its name, description and JSON-schema parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class AssistantMessage(_Wire):
    """The part of the assistant's answer carried by one chunk."""

    role: Literal["assistant"] = "assistant"
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)


class LLMUsage(_Wire):
    """Token counts and prices of one call: the 12 fields of the Service API ``usage`` object."""

    prompt_tokens: int = 0
    prompt_unit_price: str = "0"
    prompt_price_unit: str = "0"
    prompt_price: str = "0"
    completion_tokens: int = 0
    completion_unit_price: str = "0"
    completion_price_unit: str = "0"
    completion_price: str = "0"
    total_tokens: int = 0
    total_price: str = "0"
    currency: str = "USD"
    latency: float = 0.0


class LLMDelta(_Wire):
    index: int
    message: AssistantMessage
    #: Reasoning text a model sent apart from its answer (``reasoning_content``), if any.
    reasoning: str = ""
    #: Only on the last chunk.
    usage: LLMUsage | None = None
    finish_reason: str | None = None


class LLMResultChunk(_Wire):
    """One streamed piece of a model's answer."""

    model: str
    system_fingerprint: str | None = None
    delta: LLMDelta


class InvokeLLMArgs(_Wire):
    model: str
    credentials: dict[str, Any] = Field(default_factory=dict)
    prompt_messages: list[PromptMessage]
    model_parameters: dict[str, Any] = Field(default_factory=dict)
    tools: list[PromptMessageTool] = Field(default_factory=list)
    stop: list[str] = Field(default_factory=list)
    stream: bool = True
    user: str | None = None


class CountTokensArgs(_Wire):
    model: str
    credentials: dict[str, Any] = Field(default_factory=dict)
    prompt_messages: list[PromptMessage]
    tools: list[PromptMessageTool] = Field(default_factory=list)


class ValidateModelCredentialsArgs(_Wire):
    #: Empty to validate the provider's credentials, else the model whose credentials these are.
    model: str = ""
    model_type: str = ""
    credentials: dict[str, Any] = Field(default_factory=dict)


class InvokeTextEmbeddingArgs(_Wire):
    model: str
    credentials: dict[str, Any] = Field(default_factory=dict)
    texts: list[str]
    #: ``document`` when indexing, ``query`` when searching (some models embed the two differently).
    input_type: Literal["document", "query"] = "document"
    user: str | None = None


class EmbeddingUsage(_Wire):
    tokens: int = 0
    total_tokens: int = 0
    unit_price: str = "0"
    price_unit: str = "0"
    total_price: str = "0"
    currency: str = "USD"
    latency: float = 0.0


class TextEmbeddingResult(_Wire):
    model: str
    embeddings: list[list[float]]
    usage: EmbeddingUsage = Field(default_factory=EmbeddingUsage)


class InvokeRerankArgs(_Wire):
    model: str
    credentials: dict[str, Any] = Field(default_factory=dict)
    query: str
    docs: list[str]
    score_threshold: float | None = None
    top_n: int | None = None
    user: str | None = None


class RerankDocument(_Wire):
    index: int
    text: str
    score: float


class RerankResult(_Wire):
    model: str
    docs: list[RerankDocument]


class InvokeTTSArgs(_Wire):
    """Text to speech: the audio streams back as base64 chunks (PLUG-MODEL-TYPES ``tts``)."""

    model: str
    credentials: dict[str, Any] = Field(default_factory=dict)
    content_text: str
    voice: str = ""
    #: The audio format asked for (``mp3``, ``wav``, ``opus`` ...); the provider's default when empty.
    format: str = ""
    user: str | None = None


class TTSChunk(_Wire):
    #: A piece of the audio, base64-encoded.
    audio: str
    mime_type: str = "audio/mpeg"


class InvokeSpeech2TextArgs(_Wire):
    """Speech to text: the audio file, base64-encoded, with its name (the format is read from it)."""

    model: str
    credentials: dict[str, Any] = Field(default_factory=dict)
    audio: str
    filename: str = "audio.mp3"
    mime_type: str = ""
    language: str | None = None
    user: str | None = None


class InvokeModerationArgs(_Wire):
    """Moderation: whether ``text`` breaks the model's content policy (True: flagged)."""

    model: str
    credentials: dict[str, Any] = Field(default_factory=dict)
    text: str
    user: str | None = None
