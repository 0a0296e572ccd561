"""The tool manager: every tool call from a node or a plugin goes through here.

Tools come in kinds (Dify's ``provider_type``): ``builtin``/``plugin`` tools are registered by tool
provider plugins; ``api`` tools are a workspace's custom OpenAPI tools; ``workflow`` tools are
published workflows; ``mcp`` tools come from MCP servers. Each kind is a :class:`ToolSource`; the
manager finds the source and, for plugin tools, adds the workspace's credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from pydantic import BaseModel
from treadle_sdk.errors import PluginError, PluginInvalidArgument, PluginNotFound
from treadle_sdk.schemas import ToolProviderSchema, ToolSchema

from ..graph.provider_ids import parse_provider_id
from ..models.errors import scrubbed

__all__ = ["PluginTools", "ToolCredentialSource", "ToolManager", "ToolSource"]

#: Dify's provider types that name plugin tools.
PLUGIN_TYPES = ("builtin", "plugin")


class ToolSource(Protocol):
    """One kind of tool."""

    async def describe(self, tenant_id: str, provider: str, tool: str) -> ToolSchema: ...

    def invoke(
        self, tenant_id: str, provider: str, tool: str, parameters: dict[str, Any], *, depth: int
    ) -> AsyncIterator[Any]: ...


class ToolCredentialSource(Protocol):
    """The workspace's credentials of plugin tool providers."""

    async def tool_credentials(self, tenant_id: str, provider: str, credential_id: str | None) -> dict[str, Any]: ...


class InvokeFn(Protocol):
    """How extensions are invoked (``PluginSupervisor.invoke``)."""

    def __call__(
        self, kind: str, name: str, operation: str, payload: dict[str, Any], *, tenant_id: str, depth: int
    ) -> AsyncIterator[Any]: ...


def jsonable(item: Any) -> Any:
    """A tool message as it travels: a model dumped to JSON values, anything else as it is."""
    return item.model_dump(mode="json") if isinstance(item, BaseModel) else item


def plugin_provider_name(provider: str) -> str:
    """``langgenius/time/time`` and ``time`` both give ``time``."""
    try:
        return parse_provider_id(provider, "tool").provider
    except ValueError:
        return provider


class PluginTools:
    """Tools registered by tool provider plugins (``provider_type`` builtin or plugin)."""

    def __init__(
        self,
        invoke: InvokeFn,
        providers: Callable[[], dict[str, ToolProviderSchema]],
        credentials: ToolCredentialSource | None = None,
    ) -> None:
        self._invoke = invoke
        self._providers = providers
        self.credentials = credentials

    def provider(self, provider: str) -> ToolProviderSchema:
        installed = self._providers()
        for name in (provider, plugin_provider_name(provider)):
            if name in installed:
                return installed[name]
        raise PluginNotFound(
            f"tool provider {provider!r} is not installed (installed tool providers: "
            f"{', '.join(sorted(installed)) or 'none'})",
            details={"provider": provider, "installed": sorted(installed), "error_type": "ToolProviderNotFoundError"},
        )

    async def describe(self, tenant_id: str, provider: str, tool: str) -> ToolSchema:
        schema = self.provider(provider)
        for candidate in schema.tools:
            if candidate.name == tool:
                return candidate
        raise PluginNotFound(
            f"tool provider {schema.name!r} has no tool {tool!r} (tools: {', '.join(t.name for t in schema.tools)})",
            details={"provider": schema.name, "tool": tool, "error_type": "ToolProviderNotFoundError"},
        )

    async def invoke(
        self,
        tenant_id: str,
        provider: str,
        tool: str,
        parameters: dict[str, Any],
        *,
        depth: int,
        credential_id: str | None = None,
    ) -> AsyncIterator[Any]:
        schema = self.provider(provider)
        credentials: dict[str, Any] = {}
        if self.credentials is not None:
            credentials = await self.credentials.tool_credentials(tenant_id, schema.name, credential_id)
        args = {"tool": tool, "parameters": parameters, "credentials": credentials}
        try:
            async for message in self._invoke(
                "tool_provider", schema.name, "invoke_tool", args, tenant_id=tenant_id, depth=depth
            ):
                yield jsonable(message)
        except PluginError as exc:
            # A tool may echo the key it was refused with; it must not reach run records or logs.
            secret = {spec.name for spec in schema.credentials if spec.type == "secret-input"}
            raise scrubbed(exc, [str(v) for k, v in credentials.items() if k in secret]) from None


class ToolManager:
    """Routes tool calls to their source by ``provider_type``."""

    def __init__(self, plugin_tools: PluginTools) -> None:
        self.plugin_tools = plugin_tools
        self.sources: dict[str, ToolSource] = {}

    def add_source(self, provider_type: str, source: ToolSource) -> None:
        self.sources[provider_type] = source

    def _source(self, provider_type: str) -> ToolSource:
        if provider_type in PLUGIN_TYPES:
            return self.plugin_tools
        source = self.sources.get(provider_type)
        if source is None:
            kinds = sorted({*PLUGIN_TYPES, *self.sources})
            raise PluginNotFound(
                f"this server has no tools of provider type {provider_type!r} (types: {', '.join(kinds)})",
                details={"provider_type": provider_type, "error_type": "ToolProviderNotFoundError"},
            )
        return source

    async def describe(self, tenant_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        provider_type, provider, tool = _target(payload)
        schema = await self._source(provider_type).describe(tenant_id, provider, tool)
        return schema.model_dump(mode="json")

    async def invoke(self, tenant_id: str, payload: dict[str, Any], *, depth: int) -> AsyncIterator[Any]:
        provider_type, provider, tool = _target(payload)
        parameters = payload.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise PluginInvalidArgument("a tool call's 'parameters' must be an object")
        if "credentials" in payload:
            raise PluginInvalidArgument("tool calls may not carry credentials: the workspace's are used")
        source = self._source(provider_type)
        if isinstance(source, PluginTools):
            stream = source.invoke(
                tenant_id, provider, tool, parameters, depth=depth, credential_id=payload.get("credential_id")
            )
        else:
            stream = source.invoke(tenant_id, provider, tool, parameters, depth=depth)
        async for message in stream:
            yield message


def _target(payload: dict[str, Any]) -> tuple[str, str, str]:
    provider, tool = payload.get("provider"), payload.get("tool")
    provider_type = payload.get("provider_type") or "builtin"
    if not isinstance(provider, str) or not provider or not isinstance(tool, str) or not tool:
        raise PluginInvalidArgument("a tool call needs a 'provider' and a 'tool' name")
    if not isinstance(provider_type, str):
        raise PluginInvalidArgument("'provider_type' must be a string")
    return provider_type, provider, tool
