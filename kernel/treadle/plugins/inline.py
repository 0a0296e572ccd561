"""The inline host: a group of plugins run in the kernel's own process, on the same contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from treadle_sdk.context import CallContext, KernelClient
from treadle_sdk.dispatch import Dispatcher, call_name
from treadle_sdk.host import load_registry
from treadle_sdk.registry import ExtensionEntry, Registry

from .hosts import HostState, PluginHostHandle, PluginRecord, with_deadline
from .kernel_services import InvocationScope, KernelServices
from .placement import GroupPlan

__all__ = ["InlineHost", "InlineKernelClient"]


class InlineKernelClient(KernelClient):
    """Kernel calls from inline plugin code go straight to the kernel services."""

    def __init__(self, loop: asyncio.AbstractEventLoop, services: KernelServices, token: str, group: str) -> None:
        super().__init__(loop, token)
        self._services = services
        self._group = group

    def scope(self) -> InvocationScope:
        """Whom this client calls for: the tenant, and how deep in nested calls it is."""
        return self._services.scope_for(self.token, self._group)

    async def astream(self, method: str, payload: dict[str, Any]) -> AsyncIterator[Any]:
        scope = self._services.scope_for(self.token, self._group)
        async for item in self._services.handle(scope, method, dict(payload)):
            yield item


class InlineHost(PluginHostHandle):
    """Loads a group's plugins into this process and calls them through the shared dispatcher."""

    isolation = "inline"

    def __init__(self, plan: GroupPlan, services: KernelServices, *, max_workers: int) -> None:
        self.group = plan.name
        self.plan = plan
        self.services = services
        self.state = HostState.STARTING
        self.plugins = []
        self.extensions = []
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"plugin-{plan.name}")
        self._dispatcher: Dispatcher | None = None
        self._registry: Registry | None = None

    async def start(self) -> None:
        registry = load_registry(
            [p.name for p in self.plan.plugins if not p.path], [p.path for p in self.plan.plugins if p.path]
        )
        self._registry = registry
        self._dispatcher = Dispatcher(registry.extensions, self._executor, check_json=True)
        self.plugins = [
            PluginRecord(p.name, p.distribution, p.version, p.load_error) for p in registry.plugins.values()
        ]
        self.extensions = list(registry.extensions)
        self.state = HostState.RUNNING

    async def stop(self) -> None:
        self.state = HostState.STOPPED
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._registry is not None:
            await self._registry.extensions.aclose()

    def invoke(
        self,
        entry: ExtensionEntry,
        operation: str,
        payload: dict[str, Any],
        *,
        token: str,
        tenant_id: str,
        timeout: float,
    ) -> AsyncIterator[Any]:
        assert self._dispatcher is not None, "invoke before start"
        loop = asyncio.get_running_loop()
        name = call_name(entry.kind.value, entry.name, operation)
        ctx = CallContext(
            plugin=entry.plugin,
            call=name,
            tenant_id=tenant_id,
            kernel=InlineKernelClient(loop, self.services, token, self.group),
            deadline=loop.time() + timeout,
        )
        results = self._dispatcher.invoke(entry.kind.value, entry.name, operation, payload, ctx)
        if not self._dispatcher.awaits(entry.kind.value, entry.name, operation):
            # Quick sync code on the loop never suspends, so no timer could interrupt it anyway.
            return results
        return with_deadline(results, loop.time() + timeout, plugin=entry.plugin, call=name, timeout=timeout)
