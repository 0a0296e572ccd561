"""The context every operation runs in, and the client plugins use to call back into the kernel."""

from __future__ import annotations

import abc
import asyncio
import base64
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .errors import PluginCancelled, PluginInternalError, PluginTimeout
from .knowledge import KnowledgeQuery
from .model_runtime import (
    LLMResultChunk,
    PromptMessage,
    PromptMessageTool,
    RerankResult,
    TextEmbeddingResult,
    TTSChunk,
)
from .schemas import ModelSchema, ToolSchema

__all__ = ["KERNEL_METHODS", "CallContext", "CancelFlag", "HistoryTurn", "KernelClient", "ModelInfo"]

T = TypeVar("T")

#: The methods of the Kernel service (plugin -> kernel calls), all scoped by the invocation token.
KERNEL_METHODS = (
    "invoke_model",
    "describe_model",
    "default_model",
    "invoke_tool",
    "describe_tool",
    "invoke_app",
    "conversation_history",
    "kv_get",
    "kv_set",
    "kv_delete",
    "read_file",
    "retrieve_knowledge",
)


class KernelClient(abc.ABC):
    """Calls from plugin code back into the kernel, on behalf of one invocation.

    Async plugin code awaits the ``a``-prefixed methods; blocking plugin code (which runs in a worker
    thread) calls the plain ones. Every call carries the invocation's token, so the kernel knows
    which plugin and tenant it is for and what it may do.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, token: str) -> None:
        self._loop = loop
        self.token = token

    @abc.abstractmethod
    def astream(self, method: str, payload: dict[str, Any]) -> AsyncIterator[Any]:
        """Stream the results of one kernel call."""

    async def acall(self, method: str, payload: dict[str, Any]) -> list[Any]:
        """Run one kernel call and collect its results."""
        return [item async for item in self.astream(method, payload)]

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            coro.close()
            raise PluginInternalError(
                "a blocking kernel call was made from async plugin code; await the a-prefixed method"
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def call(self, method: str, payload: dict[str, Any]) -> list[Any]:
        """Blocking form of :meth:`acall`, for plugin code running in a worker thread."""
        return self._run(self.acall(method, payload))

    # -- KV storage (PLUG-KV): bytes values, scoped to the plugin and the tenant -----------------

    async def akv_get(self, key: str) -> bytes | None:
        (value,) = await self.acall("kv_get", {"key": key})
        return None if value is None else base64.b64decode(value)

    async def akv_set(self, key: str, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray):
            raise TypeError(f"KV values must be bytes, not {type(value).__name__}")
        await self.acall("kv_set", {"key": key, "value": base64.b64encode(value).decode()})

    async def akv_delete(self, key: str) -> None:
        await self.acall("kv_delete", {"key": key})

    def kv_get(self, key: str) -> bytes | None:
        return self._run(self.akv_get(key))

    def kv_set(self, key: str, value: bytes) -> None:
        self._run(self.akv_set(key, value))

    def kv_delete(self, key: str) -> None:
        self._run(self.akv_delete(key))

    # -- stored files (``transfer_method`` local_file): bytes from the kernel's file storage ------

    async def aread_file(self, file_id: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes of a file stored in the workspace of the call (a file value's ``related_id``).

        Fails with ``not_found`` for a file the workspace does not have, and with
        ``invalid_argument`` (``details.size``, ``details.limit``) when it is larger than ``max_bytes``.
        """
        payload: dict[str, Any] = {"file_id": file_id}
        if max_bytes is not None:
            payload["max_bytes"] = max_bytes
        return b"".join([base64.b64decode(piece) async for piece in self.astream("read_file", payload)])

    def read_file(self, file_id: str, *, max_bytes: int | None = None) -> bytes:
        return self._run(self.aread_file(file_id, max_bytes=max_bytes))

    # -- models (PLUG-REVERSE-MODEL) ----------------------------------------------------------
    #
    # ``provider`` and ``model`` are the names a DSL uses (``openai``, ``langgenius/openai/openai``,
    # ``gpt-4o``); the kernel maps them to an installed provider, adds the workspace's credentials
    # and picks a credential when the model is load-balanced.

    async def ainvoke_llm(
        self,
        provider: str,
        model: str,
        prompt_messages: Sequence[PromptMessage],
        *,
        model_parameters: Mapping[str, Any] | None = None,
        tools: Sequence[PromptMessageTool] = (),
        stop: Sequence[str] = (),
        stream: bool = True,
        user: str | None = None,
    ) -> AsyncIterator[LLMResultChunk]:
        """Stream a chat model's answer, chunk by chunk (the last chunk carries the usage)."""
        payload = {
            "provider": provider,
            "model": model,
            "model_type": "llm",
            "prompt_messages": [m.model_dump(mode="json", exclude_none=True) for m in prompt_messages],
            "model_parameters": dict(model_parameters or {}),
            "tools": [t.model_dump(mode="json") for t in tools],
            "stop": list(stop),
            "stream": stream,
            "user": user,
        }
        async for item in self.astream("invoke_model", payload):
            # Inline, the kernel hands over the provider's own objects; over the wire, JSON.
            yield item if isinstance(item, LLMResultChunk) else LLMResultChunk.model_validate(item)

    def invoke_llm(
        self,
        provider: str,
        model: str,
        prompt_messages: Sequence[PromptMessage],
        **kwargs: Any,
    ) -> list[LLMResultChunk]:
        """Blocking form of :meth:`ainvoke_llm`: all the chunks."""

        async def collect() -> list[LLMResultChunk]:
            return [chunk async for chunk in self.ainvoke_llm(provider, model, prompt_messages, **kwargs)]

        return self._run(collect())

    async def _model_call(self, provider: str, model: str, model_type: str, args: dict[str, Any]) -> Any:
        payload = {"provider": provider, "model": model, "model_type": model_type, **args}
        (result,) = await self.acall("invoke_model", payload)
        return result

    async def ainvoke_text_embedding(
        self, provider: str, model: str, texts: Sequence[str], *, input_type: str = "document"
    ) -> TextEmbeddingResult:
        args = {"texts": list(texts), "input_type": input_type}
        result = await self._model_call(provider, model, "text-embedding", args)
        return result if isinstance(result, TextEmbeddingResult) else TextEmbeddingResult.model_validate(result)

    async def ainvoke_rerank(
        self,
        provider: str,
        model: str,
        query: str,
        docs: Sequence[str],
        *,
        score_threshold: float | None = None,
        top_n: int | None = None,
    ) -> RerankResult:
        args = {"query": query, "docs": list(docs), "score_threshold": score_threshold, "top_n": top_n}
        result = await self._model_call(provider, model, "rerank", args)
        return result if isinstance(result, RerankResult) else RerankResult.model_validate(result)

    async def ainvoke_tts(self, provider: str, model: str, text: str, *, voice: str = "") -> AsyncIterator[TTSChunk]:
        payload = {"provider": provider, "model": model, "model_type": "tts", "content_text": text, "voice": voice}
        async for item in self.astream("invoke_model", payload):
            yield item if isinstance(item, TTSChunk) else TTSChunk.model_validate(item)

    async def ainvoke_speech2text(
        self, provider: str, model: str, audio: bytes, *, filename: str = "audio.mp3", language: str | None = None
    ) -> str:
        args = {"audio": base64.b64encode(audio).decode(), "filename": filename, "language": language}
        return str(await self._model_call(provider, model, "speech2text", args))

    async def ainvoke_moderation(self, provider: str, model: str, text: str) -> bool:
        """True when the text is flagged."""
        return bool(await self._model_call(provider, model, "moderation", {"text": text}))

    async def adescribe_model(self, provider: str, model: str, model_type: str = "llm") -> ModelInfo:
        """What the kernel will run for this provider and model: the installed provider it maps to,
        and the model's schema (features, context size, parameter rules)."""
        (info,) = await self.acall("describe_model", {"provider": provider, "model": model, "model_type": model_type})
        return ModelInfo.model_validate(info)

    async def adefault_model(self, model_type: str) -> tuple[str, str] | None:
        """The workspace's default (provider, model) of a type (WS-DEFAULT-MODELS), or None."""
        (found,) = await self.acall("default_model", {"model_type": model_type})
        return None if found is None else (str(found["provider"]), str(found["model"]))

    # -- tools, apps, conversations (PLUG-REVERSE-TOOL, -APP) ----------------------------------

    async def ainvoke_tool(
        self,
        provider: str,
        tool: str,
        parameters: Mapping[str, Any],
        *,
        provider_type: str = "builtin",
        credential_id: str | None = None,
    ) -> list[Any]:
        """Run a tool; its output messages (``text``, ``json``, ``link``, ``image``, ``blob``, ...)."""
        payload: dict[str, Any] = {
            "provider": provider,
            "tool": tool,
            "parameters": dict(parameters),
            "provider_type": provider_type,
        }
        if credential_id:
            payload["credential_id"] = credential_id
        return await self.acall("invoke_tool", payload)

    def invoke_tool(self, provider: str, tool: str, parameters: Mapping[str, Any], **kwargs: Any) -> list[Any]:
        return self._run(self.ainvoke_tool(provider, tool, parameters, **kwargs))

    async def adescribe_tool(self, provider: str, tool: str, *, provider_type: str = "builtin") -> ToolSchema:
        """A tool's schema: description and parameters (what an agent offers the model)."""
        payload = {"provider": provider, "tool": tool, "provider_type": provider_type}
        (schema,) = await self.acall("describe_tool", payload)
        return ToolSchema.model_validate(schema)

    async def ainvoke_app(
        self, app_id: str, inputs: dict[str, Any], query: str | None = None, conversation_id: str | None = None
    ) -> list[Any]:
        payload = {"app_id": app_id, "inputs": inputs, "query": query, "conversation_id": conversation_id}
        return await self.acall("invoke_app", payload)

    def invoke_app(
        self, app_id: str, inputs: dict[str, Any], query: str | None = None, conversation_id: str | None = None
    ) -> list[Any]:
        return self._run(self.ainvoke_app(app_id, inputs, query, conversation_id))

    async def aconversation_history(self, conversation_id: str, limit: int) -> list[HistoryTurn]:
        """The last ``limit`` finished turns of a conversation of the running app, oldest first
        (what a node's memory window reads)."""
        payload = {"conversation_id": conversation_id, "limit": limit}
        (turns,) = await self.acall("conversation_history", payload)
        return [HistoryTurn.model_validate(turn) for turn in turns]

    # -- knowledge (NODE-KNOWLEDGE-RETRIEVAL) -------------------------------------------------------

    async def aretrieve_knowledge(self, query: KnowledgeQuery) -> list[dict[str, Any]]:
        """Search the workspace's knowledge bases: the chunks found, best first, each a citation
        object (:mod:`treadle_sdk.knowledge`). Knowledge bases the workspace does not have are left
        out, as Dify leaves out deleted ones; an empty list is a valid answer."""
        (chunks,) = await self.acall("retrieve_knowledge", query.model_dump(mode="json"))
        return [dict(chunk) for chunk in chunks]


class ModelInfo(BaseModel):
    """What :meth:`KernelClient.adescribe_model` answers."""

    model_config = ConfigDict(extra="forbid")

    #: The installed provider extension the kernel maps the request to, and the model it runs.
    provider: str
    model: str
    schema_: ModelSchema = Field(alias="schema")

    @property
    def features(self) -> list[str]:
        return [str(feature) for feature in self.schema_.features]

    @property
    def mode(self) -> str:
        """``chat`` or ``completion`` (model property ``mode``; chat when unset)."""
        return str(self.schema_.model_properties.get("mode") or "chat")


class HistoryTurn(BaseModel):
    """One finished turn of a conversation: the user's message and the app's answer."""

    model_config = ConfigDict(extra="ignore")

    query: str
    answer: str
    #: Files the user sent with the message (file values), for vision memory.
    files: list[dict[str, Any]] = Field(default_factory=list)


class CancelFlag:
    """Set once when the caller gives up; read by plugin code between steps (thread-safe: one bool)."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


@dataclass
class CallContext:
    """Facts about the invocation an operation serves, and the way back into the kernel.

    ``deadline`` is on this process's ``time.monotonic`` clock (None: no deadline). Long-running
    blocking code should call :meth:`check` between steps so a cancelled call stops promptly.
    """

    plugin: str
    call: str
    tenant_id: str
    kernel: KernelClient
    deadline: float | None = None
    cancelled: CancelFlag = field(default_factory=CancelFlag)

    def time_left(self) -> float | None:
        """Seconds until the deadline, or None when the call has none."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check(self) -> None:
        """Raise if the caller cancelled the call or its deadline has passed."""
        if self.cancelled.is_set():
            raise PluginCancelled("the caller cancelled the call", plugin=self.plugin, call=self.call)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise PluginTimeout("the call passed its deadline", plugin=self.plugin, call=self.call)

    def iter_checked(self, items: Iterator[T]) -> Iterator[T]:
        """Yield from ``items``, checking for cancellation before each item."""
        for item in items:
            self.check()
            yield item
