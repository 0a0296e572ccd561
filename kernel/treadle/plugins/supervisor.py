"""The plugin supervisor: starts every isolation group, keeps them up, and routes calls to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from treadle_sdk.context import KernelClient
from treadle_sdk.dispatch import call_name
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import ExtensionKind, operation_specs
from treadle_sdk.registry import ExtensionEntry
from treadle_sdk.schemas import ModelProviderSchema, ToolProviderSchema

from ..config import Settings
from ..models import (
    CredentialVault,
    ModelManager,
    ModelMapping,
    SecretCipher,
    SettingsStore,
    SqliteSettingsStore,
    WorkspaceModelSettings,
)
from ..tools import (
    ApiTools,
    McpTools,
    PluginTools,
    SQLiteApiToolStore,
    SQLiteMcpServerStore,
    ToolManager,
    WorkflowTools,
    WorkspaceToolCredentials,
)
from .hosts import PluginHostHandle, PluginRecord
from .inline import InlineHost, InlineKernelClient
from .kernel_services import AppInvoker, ConversationHistory, InvocationScope, KernelServices
from .kv import KVStore, MemoryKVStore
from .placement import GroupPlan, plan_groups
from .remote import RemoteHost, socket_dir_for

__all__ = ["PluginSupervisor"]

#: The scope (plugin and group) of kernel calls that workflow runs make on behalf of their nodes.
_ENGINE = "workflow-engine"

log = logging.getLogger(__name__)


class PluginSupervisor:
    """Owns the plugin hosts of one kernel process and the table of what they registered.

    ``groups`` replaces the plan derived from the configuration (tests pass throwaway plugins this
    way). Across hosts, the first plugin (by group, then plugin name) to claim a kind and name keeps
    it; a later claimant is refused whole and its conflict is reported in :meth:`table`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        kv: KVStore | None = None,
        apps: AppInvoker | None = None,
        history: ConversationHistory | None = None,
        groups: list[GroupPlan] | None = None,
        model_mapping: ModelMapping | None = None,
        settings_store: SettingsStore | None = None,
    ) -> None:
        self.settings = settings
        self.services = KernelServices(
            kv or MemoryKVStore(), kv_max_value_bytes=settings.plugins.kv_max_value_bytes, apps=apps, history=history
        )
        self.services.bind(self._nested_invoke)
        self._model_schemas: dict[str, ModelProviderSchema] = {}
        self._tool_schemas: dict[str, ToolProviderSchema] = {}
        # Workspace credentials: in $TREADLE_HOME/models.db unless a store is given, encrypted under
        # $TREADLE_HOME/secret_key; neither file is made before the first credential is saved.
        self._own_store: SqliteSettingsStore | None = None
        if settings_store is None:
            settings_store = self._own_store = SqliteSettingsStore(settings.home / "models.db")
        vault = CredentialVault(settings_store, SecretCipher(settings.home / "secret_key"))
        self.model_settings = WorkspaceModelSettings(vault, self)
        self.tool_credentials = WorkspaceToolCredentials(vault, self)
        self.models = ModelManager(
            self._nested_invoke,
            lambda: self._model_schemas,
            mapping=model_mapping if model_mapping is not None else ModelMapping(settings.models.map),
            credentials=self.model_settings,
        )
        self.tools = ToolManager(PluginTools(self._nested_invoke, lambda: self._tool_schemas, self.tool_credentials))
        # Custom OpenAPI tools (provider_type "api") and MCP servers' tools ("mcp"), their keys and
        # headers encrypted like model credentials, and workflows registered as tools ("workflow").
        self.api_tools = ApiTools(self._nested_invoke, SQLiteApiToolStore(settings.home / "tools.db", vault.cipher))
        self.tools.add_source("api", self.api_tools)
        self.mcp_tools = McpTools(self._nested_invoke, SQLiteMcpServerStore(settings.home / "tools.db", vault.cipher))
        self.tools.add_source("mcp", self.mcp_tools)
        from .node_factory import PluginNodeFactory  # node_factory imports this module

        self.workflow_tools = WorkflowTools(self, PluginNodeFactory(self))
        self.tools.add_source("workflow", self.workflow_tools)
        self.services.models = self.models
        self.services.tools = self.tools
        self._groups = groups
        self.hosts: dict[str, PluginHostHandle] = {}
        self._catalog: dict[tuple[ExtensionKind, str], tuple[PluginHostHandle, ExtensionEntry]] = {}
        self.conflicts: dict[str, str] = {}
        self._socket_dir: Path | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every host concurrently; a host that fails keeps retrying in the background."""
        plans = self._groups if self._groups is not None else plan_groups(self.settings.plugins)
        if any(not plan.inline for plan in plans):
            self._socket_dir = socket_dir_for(self.settings.socket_dir)
        for plan in plans:
            host: PluginHostHandle
            if plan.inline:
                host = InlineHost(plan, self.services, max_workers=self.settings.plugins.max_workers)
            else:
                assert self._socket_dir is not None
                host = RemoteHost(
                    plan, self.services, self.settings.plugins, self._socket_dir, on_change=self._host_changed
                )
            self.hosts[plan.name] = host
        await asyncio.gather(*(host.start() for host in self.hosts.values()))
        self._rebuild_catalog()

    async def stop(self) -> None:
        await asyncio.gather(*(host.stop() for host in self.hosts.values()), return_exceptions=True)
        if self._own_store is not None:
            self._own_store.close()
        if self._socket_dir is not None and self._socket_dir != self.settings.socket_dir:
            # The private temporary directory socket_dir_for made, empty once the hosts are stopped.
            with contextlib.suppress(OSError):
                self._socket_dir.rmdir()

    async def __aenter__(self) -> PluginSupervisor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _host_changed(self, host: RemoteHost) -> None:
        if host.restarts:
            log.info("plugin host %r is running again (pid %s)", host.group, host.pid)
        self._rebuild_catalog()

    def _rebuild_catalog(self) -> None:
        claims: dict[tuple[ExtensionKind, str], tuple[PluginHostHandle, ExtensionEntry]] = {}
        conflicts: dict[str, str] = {}
        ordered = sorted(
            ((host, entry) for host in self.hosts.values() for entry in host.extensions),
            key=lambda he: (he[0].group, he[1].plugin),
        )
        for host, entry in ordered:
            taken = claims.get((entry.kind, entry.name))
            if taken is not None and taken[1].plugin != entry.plugin:
                conflicts.setdefault(
                    entry.plugin,
                    f"{entry.kind.value} {entry.name!r} is already registered by plugin {taken[1].plugin!r}",
                )
            else:
                claims[(entry.kind, entry.name)] = (host, entry)
        self._catalog = {key: value for key, value in claims.items() if value[1].plugin not in conflicts}
        self.conflicts = conflicts
        self._model_schemas = {
            name: ModelProviderSchema.model_validate(entry.schema)
            for (kind, name), (_, entry) in self._catalog.items()
            if kind is ExtensionKind.MODEL_PROVIDER
        }
        self._tool_schemas = {
            name: ToolProviderSchema.model_validate(entry.schema)
            for (kind, name), (_, entry) in self._catalog.items()
            if kind is ExtensionKind.TOOL_PROVIDER
        }

    # -- lookup -----------------------------------------------------------------------------------

    def extension(self, kind: ExtensionKind | str, name: str) -> ExtensionEntry:
        """The registered extension of that kind and name, or :class:`PluginNotFound`."""
        kind = ExtensionKind(kind)
        found = self._catalog.get((kind, name))
        if found is None:
            raise PluginNotFound(
                f"no {kind.value} named {name!r} is loaded",
                details={"available": sorted(n for k, n in self._catalog if k is kind)},
            )
        return found[1]

    def extensions(self, kind: ExtensionKind | str | None = None) -> list[ExtensionEntry]:
        return [e for (k, _), (_, e) in sorted(self._catalog.items()) if kind is None or k is ExtensionKind(kind)]

    # -- invoking ---------------------------------------------------------------------------------

    def invoke(
        self,
        kind: ExtensionKind | str,
        name: str,
        operation: str,
        payload: dict[str, Any] | BaseModel,
        *,
        tenant_id: str = "",
        timeout: float | None = None,
        depth: int = 0,
    ) -> AsyncIterator[Any]:
        """Run one operation of an extension wherever it lives, yielding its typed results."""
        try:
            kind = ExtensionKind(kind)
        except ValueError:
            raise PluginNotFound(
                f"there is no extension kind {kind!r}", details={"kinds": [k.value for k in ExtensionKind]}
            ) from None
        found = self._catalog.get((kind, name))
        if found is None:
            self.extension(kind, name)  # raises the not-found error with what is available
        assert found is not None
        host, entry = found
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(mode="json")
        elif not isinstance(payload, dict):
            raise PluginInvalidArgument(
                f"the payload must be an object, not {type(payload).__name__}",
                plugin=entry.plugin,
                call=call_name(kind.value, name, operation),
            )
        return self._invoke(host, entry, operation, payload, tenant_id, timeout, depth)

    async def _invoke(
        self,
        host: PluginHostHandle,
        entry: ExtensionEntry,
        operation: str,
        payload: dict[str, Any],
        tenant_id: str,
        timeout: float | None,
        depth: int,
    ) -> AsyncIterator[Any]:
        call = call_name(entry.kind.value, entry.name, operation)
        token = self.services.mint(InvocationScope(entry.plugin, tenant_id, host.group, call, depth))
        try:
            async for item in host.invoke(
                entry,
                operation,
                payload,
                token=token,
                tenant_id=tenant_id,
                timeout=timeout or self.settings.plugins.call_timeout,
            ):
                yield item
        finally:
            self.services.revoke(token)

    @contextlib.contextmanager
    def kernel_client(self, *, tenant_id: str = "", depth: int = 0) -> Iterator[KernelClient]:
        """A way back into the kernel for the nodes of one workflow run (``NodeRuntime.kernel``):
        models and tools invoked through it are invoked for ``tenant_id``; valid inside the block."""
        token = self.services.mint(InvocationScope(_ENGINE, tenant_id, _ENGINE, "workflow run", depth))
        try:
            yield InlineKernelClient(asyncio.get_running_loop(), self.services, token, _ENGINE)
        finally:
            self.services.revoke(token)

    def _nested_invoke(
        self, kind: str, name: str, operation: str, payload: dict[str, Any], *, tenant_id: str, depth: int
    ) -> AsyncIterator[Any]:
        return self.invoke(kind, name, operation, payload, tenant_id=tenant_id, depth=depth)

    async def call(
        self,
        kind: ExtensionKind | str,
        name: str,
        operation: str,
        payload: dict[str, Any] | BaseModel,
        **options: Any,
    ) -> Any:
        """Run an operation and return its result: the one value, or the list a stream yields."""
        results = [item async for item in self.invoke(kind, name, operation, payload, **options)]
        spec = operation_specs(kind).get(operation)
        if spec is not None and not spec.stream:
            return results[0] if results else None
        return results

    # -- reporting --------------------------------------------------------------------------------

    def table(self) -> list[dict[str, Any]]:
        """The live plugin table: every plugin, where it runs, its state and what it registers."""
        rows = []
        for host in sorted(self.hosts.values(), key=lambda h: h.group):
            registered: dict[str, list[str]] = {}
            for entry in host.extensions:
                registered.setdefault(entry.plugin, []).append(f"{entry.kind.value}:{entry.name}")
            # Before a host has described itself (starting, or failed to start), list what it was given.
            plugins = host.plugins or [
                PluginRecord(spec.name, spec.distribution, spec.version) for spec in host.plan.plugins
            ]
            for plugin in plugins:
                error = plugin.load_error or self.conflicts.get(plugin.name, "")
                rows.append(
                    {
                        "name": plugin.name,
                        "distribution": plugin.distribution,
                        "version": plugin.version,
                        "group": host.group,
                        "isolation": host.isolation,
                        "pid": host.pid,
                        "state": "failed" if plugin.load_error else host.state.value,
                        "host_error": host.error,
                        "restarts": host.restarts,
                        "error": error,
                        "registers": sorted(registered.get(plugin.name, [])),
                    }
                )
        return rows

