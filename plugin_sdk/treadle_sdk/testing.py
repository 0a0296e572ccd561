"""Helpers for plugin authors' tests: load a plugin in process and call its extensions.

    from treadle_sdk.testing import invoke

    def test_echo():
        [message] = invoke(my_plugin, "tool_provider", "echo", "invoke_tool", {"tool": "echo", ...})

Calls go through the same dispatcher the plugin host uses, so arguments and results are checked
exactly as they will be in production. Calls the plugin makes back into the kernel are served by a
:class:`MemoryKernel`: KV storage in a dict, and whatever handlers the test gives it.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .context import CallContext, KernelClient
from .dispatch import Dispatcher, call_name
from .errors import PluginLoadError, PluginTimeout, PluginUnimplemented
from .registry import Registry

__all__ = ["MemoryKernel", "ainvoke", "invoke", "load"]

KernelHandler = Callable[[dict[str, Any]], list[Any]]


class MemoryKernel(KernelClient):
    """A stand-in kernel for plugin tests: a dict for KV, and ``handlers`` for other methods."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, handlers: dict[str, KernelHandler] | None = None
    ) -> None:
        super().__init__(loop, token="test-token")
        self.kv: dict[str, bytes] = {}
        self.handlers = handlers or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def astream(self, method: str, payload: dict[str, Any]) -> AsyncIterator[Any]:
        self.calls.append((method, payload))
        if method == "kv_get":
            value = self.kv.get(payload["key"])
            yield None if value is None else base64.b64encode(value).decode()
        elif method == "kv_set":
            self.kv[payload["key"]] = base64.b64decode(payload["value"])
            yield None
        elif method == "kv_delete":
            self.kv.pop(payload["key"], None)
            yield None
        elif method in self.handlers:
            for item in self.handlers[method](payload):
                yield item
        else:
            raise PluginUnimplemented(f"the test kernel has no handler for {method!r}")


def load(plugin: Any, name: str = "test-plugin") -> Registry:
    """A registry holding ``plugin``; raises :class:`PluginLoadError` if it fails to register."""
    registry = Registry()
    info = registry.add_plugin(plugin, name)
    if info.load_error:
        raise PluginLoadError(info.load_error, plugin=name)
    return registry


async def ainvoke(
    plugin: Any,
    kind: str,
    name: str,
    operation: str,
    payload: dict[str, Any],
    *,
    tenant_id: str = "test-tenant",
    kernel: MemoryKernel | None = None,
    timeout: float | None = None,
) -> list[Any]:
    """Run one operation of an extension of ``plugin`` (or of a loaded Registry); collect results."""
    registry = plugin if isinstance(plugin, Registry) else load(plugin)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=4) as executor:
        dispatcher = Dispatcher(registry.extensions, executor)
        ctx = CallContext(
            plugin="",
            call=call_name(kind, name, operation),
            tenant_id=tenant_id,
            kernel=kernel or MemoryKernel(loop),
            deadline=None if timeout is None else time.monotonic() + timeout,
        )
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return [item async for item in dispatcher.invoke(kind, name, operation, payload, ctx)]
        except TimeoutError:
            if not deadline.expired():  # the plugin's own PluginTimeout (ctx.check) passes through
                raise
            # What the plugin host answers when a call passes its deadline.
            raise PluginTimeout(
                f"the call passed its {timeout:g} s deadline", plugin=ctx.plugin, call=ctx.call
            ) from None


def invoke(plugin: Any, kind: str, name: str, operation: str, payload: dict[str, Any], **kwargs: Any) -> list[Any]:
    """Blocking form of :func:`ainvoke`, for plain (non-async) tests."""
    return asyncio.run(ainvoke(plugin, kind, name, operation, payload, **kwargs))
