"""The context every operation runs in, and the client plugins use to call back into the kernel."""

from __future__ import annotations

import abc
import asyncio
import base64
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import PluginCancelled, PluginInternalError, PluginTimeout
from .model_runtime import LLMResultChunk, PromptMessage

__all__ = ["KERNEL_METHODS", "CallContext", "CancelFlag", "KernelClient"]

T = TypeVar("T")

#: The methods of the Kernel service (plugin -> kernel calls), all scoped by the invocation token.
KERNEL_METHODS = ("invoke_model", "invoke_tool", "invoke_app", "kv_get", "kv_set", "kv_delete")


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

    # -- models, tools, apps (PLUG-REVERSE-*) ----------------------------------------------------

    async def ainvoke_model(
        self,
        provider: str,
        model: str,
        prompt_messages: list[PromptMessage],
        model_parameters: dict[str, Any] | None = None,
        stream: bool = True,
    ) -> AsyncIterator[LLMResultChunk]:
        payload = {
            "provider": provider,
            "model": model,
            "prompt_messages": [m.model_dump(mode="json") for m in prompt_messages],
            "model_parameters": model_parameters or {},
            "stream": stream,
        }
        async for item in self.astream("invoke_model", payload):
            yield LLMResultChunk.model_validate(item)

    def invoke_model(
        self,
        provider: str,
        model: str,
        prompt_messages: list[PromptMessage],
        model_parameters: dict[str, Any] | None = None,
    ) -> list[LLMResultChunk]:
        async def collect() -> list[LLMResultChunk]:
            gen = self.ainvoke_model(provider, model, prompt_messages, model_parameters)
            return [chunk async for chunk in gen]

        return self._run(collect())

    async def ainvoke_tool(self, provider: str, tool: str, parameters: dict[str, Any]) -> list[Any]:
        return await self.acall("invoke_tool", {"provider": provider, "tool": tool, "parameters": parameters})

    def invoke_tool(self, provider: str, tool: str, parameters: dict[str, Any]) -> list[Any]:
        return self._run(self.ainvoke_tool(provider, tool, parameters))

    async def ainvoke_app(
        self, app_id: str, inputs: dict[str, Any], query: str | None = None, conversation_id: str | None = None
    ) -> list[Any]:
        payload = {"app_id": app_id, "inputs": inputs, "query": query, "conversation_id": conversation_id}
        return await self.acall("invoke_app", payload)

    def invoke_app(
        self, app_id: str, inputs: dict[str, Any], query: str | None = None, conversation_id: str | None = None
    ) -> list[Any]:
        return self._run(self.ainvoke_app(app_id, inputs, query, conversation_id))


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
