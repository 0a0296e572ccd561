"""What nodes that call models share: the DSL's model and memory settings, the memory window, and
one streamed model call collected into an answer with its usage.

The DSL shapes are Dify's (``model: {provider, name, mode, completion_params}``, ``memory: {window,
role_prefix, query_prompt_template}``), so the llm, parameter-extractor, question-classifier and
agent nodes read them the same way. :func:`describe_model` says what the kernel knows of the model
(features, parameter rules), and :func:`prompts_for_saving` is the ``prompts`` entry of a node's
process data, in Dify's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .context import KernelClient, ModelInfo
from .model_runtime import (
    ImageContent,
    LLMUsage,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
    ToolCall,
)
from .nodes import NodeConfigError, NodeRunError, NodeRuntime

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "LLMAnswer",
    "MemoryConfig",
    "ModelConfig",
    "add_usage",
    "call_llm",
    "describe_model",
    "kernel_of",
    "memory_messages",
    "memory_text",
    "prompts_for_saving",
]

#: Turns a memory reads when its window is off (Dify's TokenBufferMemory message limit).
DEFAULT_HISTORY_LIMIT = 500


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """A node's ``model``: which provider and model, chat or completion, and its parameters."""

    provider: str
    name: str
    mode: str = "chat"
    completion_params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Any, path: str = "model") -> ModelConfig:
        """Read a DSL ``model`` object; :class:`NodeConfigError` names the field that is wrong."""
        if not isinstance(data, Mapping):
            raise NodeConfigError("must be an object with 'provider' and 'name'", path)
        provider, name = data.get("provider"), data.get("name")
        if not isinstance(provider, str) or not provider:
            raise NodeConfigError("a model provider is required", f"{path}.provider")
        if not isinstance(name, str) or not name:
            raise NodeConfigError("a model name is required", f"{path}.name")
        mode = data.get("mode") or "chat"
        if mode not in ("chat", "completion"):
            raise NodeConfigError(f"must be 'chat' or 'completion', not {mode!r}", f"{path}.mode")
        params = data.get("completion_params") or {}
        if not isinstance(params, Mapping):
            raise NodeConfigError("must be an object", f"{path}.completion_params")
        return cls(provider, name, str(mode), dict(params))

    def parameters(self) -> dict[str, Any]:
        """The model parameters to send: completion params without the editor's bookkeeping
        (``stop`` goes separately)."""
        return {k: v for k, v in self.completion_params.items() if k != "stop" and v is not None}

    def stop(self) -> list[str]:
        stop = self.completion_params.get("stop")
        return [s for s in stop if isinstance(s, str) and s] if isinstance(stop, list) else []


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    """A node's ``memory`` (chatflows): how many past turns it reads and how it frames them."""

    window_size: int | None = None
    user_prefix: str = "Human"
    assistant_prefix: str = "Assistant"
    query_prompt_template: str | None = None

    @property
    def limit(self) -> int:
        return self.window_size if self.window_size is not None else DEFAULT_HISTORY_LIMIT

    @classmethod
    def parse(cls, data: Any, path: str = "memory") -> MemoryConfig | None:
        """Read a DSL ``memory`` object; None when the node has no memory."""
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise NodeConfigError("must be an object", path)
        window = data.get("window") or {}
        if not isinstance(window, Mapping):
            raise NodeConfigError("must be an object", f"{path}.window")
        size: int | None = None
        if window.get("enabled"):
            raw = window.get("size", 50)
            try:
                size = int(raw)
            except (TypeError, ValueError):
                raise NodeConfigError(f"must be a whole number, not {raw!r}", f"{path}.window.size") from None
            if size < 1:
                raise NodeConfigError(f"must be at least 1, not {size}", f"{path}.window.size")
        prefix = data.get("role_prefix") or {}
        if not isinstance(prefix, Mapping):
            raise NodeConfigError("must be an object", f"{path}.role_prefix")
        template = data.get("query_prompt_template")
        return cls(
            window_size=size,
            user_prefix=str(prefix.get("user") or "Human"),
            assistant_prefix=str(prefix.get("assistant") or "Assistant"),
            query_prompt_template=template if isinstance(template, str) and template else None,
        )


def kernel_of(rt: NodeRuntime) -> KernelClient:
    """The run's way to the kernel; a node that calls models cannot run without it."""
    if rt.kernel is None:
        raise NodeRunError(
            f"node {rt.node_id} calls a model, but this run has no kernel to call it through",
            error_type="ModelUnavailable",
        )
    return rt.kernel


async def memory_messages(rt: NodeRuntime, memory: MemoryConfig | None) -> list[PromptMessage]:
    """The conversation's past turns as alternating user and assistant messages, oldest first
    (empty outside a conversation, or when the node has no memory)."""
    if memory is None:
        return []
    conversation_id = rt.get_or(["sys", "conversation_id"], "")
    if not isinstance(conversation_id, str) or not conversation_id:
        return []
    turns = await kernel_of(rt).aconversation_history(conversation_id, memory.limit)
    messages: list[PromptMessage] = []
    for turn in turns:
        messages.append(PromptMessage(role=PromptMessageRole.USER, content=turn.query))
        messages.append(PromptMessage(role=PromptMessageRole.ASSISTANT, content=turn.answer))
    return messages


def memory_text(messages: Sequence[PromptMessage], memory: MemoryConfig) -> str:
    """History as text (completion prompts): ``Human: ...`` / ``Assistant: ...`` lines."""
    lines = []
    for message in messages:
        prefix = memory.user_prefix if message.role == PromptMessageRole.USER else memory.assistant_prefix
        lines.append(f"{prefix}: {message.text()}")
    return "\n".join(lines)


async def describe_model(rt: NodeRuntime, model: ModelConfig) -> ModelInfo:
    """What the kernel will run for the node's model: its features (``vision``, ``tool-call`` ...),
    properties and parameter rules. A model the kernel cannot serve fails the node with the
    kernel's reason (``PluginNotFound`` when no installed provider serves it)."""
    from .errors import PluginError

    try:
        return await kernel_of(rt).adescribe_model(model.provider, model.name, "llm")
    except PluginError as exc:
        error_type = str(exc.details.get("error_type") or type(exc).__name__)
        raise NodeRunError(exc.message, error_type=error_type) from exc


#: How much of an inline (``data:``) image a saved prompt keeps.
_SAVED_DATA_CHARS = 50


def prompts_for_saving(mode: str, messages: Sequence[PromptMessage]) -> list[dict[str, Any]]:
    """The prompt as run records keep it (process data ``prompts``): one ``{role, text, files}`` per
    message (and ``tool_calls`` on assistant messages that made some) for chat models; a single
    ``{role: user, text, files}`` for completion models. Inline image data is cut short, so records
    stay small."""
    saved: list[dict[str, Any]] = []
    for message in messages:
        files = []
        if isinstance(message.content, list):
            for part in message.content:
                if isinstance(part, ImageContent):
                    data = part.data
                    if data.startswith("data:") and len(data) > _SAVED_DATA_CHARS:
                        data = data[:_SAVED_DATA_CHARS] + "...[TRUNCATED]..."
                    files.append({"type": "image", "data": data, "detail": part.detail})
        entry: dict[str, Any] = {"role": message.role.value, "text": message.text(), "files": files}
        if message.tool_calls:
            entry["tool_calls"] = [call.model_dump() for call in message.tool_calls]
        saved.append(entry)
    if mode == "completion":
        text = "\n".join(entry["text"] for entry in saved)
        return [{"role": "user", "text": text, "files": [f for entry in saved for f in entry["files"]]}]
    return saved


def _dec(value: str) -> Decimal:
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        return Decimal(0)


def add_usage(a: LLMUsage, b: LLMUsage) -> LLMUsage:
    """The usage of two calls together (an agent's rounds, say)."""
    return LLMUsage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        prompt_unit_price=b.prompt_unit_price,
        prompt_price_unit=b.prompt_price_unit,
        prompt_price=str(_dec(a.prompt_price) + _dec(b.prompt_price)),
        completion_tokens=a.completion_tokens + b.completion_tokens,
        completion_unit_price=b.completion_unit_price,
        completion_price_unit=b.completion_price_unit,
        completion_price=str(_dec(a.completion_price) + _dec(b.completion_price)),
        total_tokens=a.total_tokens + b.total_tokens,
        total_price=str(_dec(a.total_price) + _dec(b.total_price)),
        currency=b.currency or a.currency,
        latency=a.latency + b.latency,
    )


@dataclass(slots=True)
class LLMAnswer:
    """A model's whole answer to one call."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)
    finish_reason: str | None = None


async def call_llm(
    rt: NodeRuntime,
    model: ModelConfig,
    messages: Sequence[PromptMessage],
    *,
    tools: Sequence[PromptMessageTool] = (),
    stop: Sequence[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    on_text: Callable[[str], None] | None = None,
    stream: bool = True,
    on_reasoning: Callable[[str], None] | None = None,
) -> LLMAnswer:
    """Call the node's model and collect the answer; ``on_text`` gets each piece of text as it
    streams, ``on_reasoning`` each piece of reasoning the model sends apart from its text. Model
    errors become :class:`NodeRunError` with Dify's error type (``InvokeRateLimitError`` ...), so
    error strategies and run records see what went wrong."""
    from .errors import PluginError

    answer = LLMAnswer()
    text: list[str] = []
    reasoning: list[str] = []
    try:
        async for chunk in kernel_of(rt).ainvoke_llm(
            model.provider,
            model.name,
            messages,
            model_parameters=model.parameters() if parameters is None else parameters,
            tools=tools,
            stop=model.stop() if stop is None else stop,
            stream=stream,
            user=rt.get_or(["sys", "user_id"], None) or None,
        ):
            delta = chunk.delta
            if delta.reasoning:
                reasoning.append(delta.reasoning)
                if on_reasoning is not None:
                    on_reasoning(delta.reasoning)
            if delta.message.content:
                text.append(delta.message.content)
                if on_text is not None:
                    on_text(delta.message.content)
            answer.tool_calls.extend(delta.message.tool_calls)
            if delta.usage is not None:
                answer.usage = delta.usage
            if delta.finish_reason:
                answer.finish_reason = delta.finish_reason
    except PluginError as exc:
        error_type = str(exc.details.get("error_type") or type(exc).__name__)
        raise NodeRunError(exc.message, error_type=error_type) from exc
    answer.text = "".join(text)
    answer.reasoning = "".join(reasoning)
    return answer
