"""The kernel side of the Kernel service: what plugins may ask of the kernel while serving a call.

Each invocation the kernel sends to a plugin carries a fresh token. Calls the plugin makes back
(KV storage, invoking a model, a tool, an app) must present it; the token tells the kernel which
plugin and tenant the call is for, which host it must come from, and how deep the chain of nested
calls already is.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from treadle_sdk.errors import (
    PluginInvalidArgument,
    PluginPermissionDenied,
    PluginUnauthenticated,
    PluginUnimplemented,
)

from .kv import KVStore

__all__ = ["MAX_CALL_DEPTH", "MAX_KEY_LENGTH", "AppInvoker", "InvocationScope", "InvokeFn", "KernelServices"]

#: How deeply plugin calls may nest (a tool invoking a model invoking a tool ...).
MAX_CALL_DEPTH = 8
MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class InvocationScope:
    """What one invocation's token stands for."""

    plugin: str
    tenant_id: str
    group: str
    call: str
    depth: int


class InvokeFn(Protocol):
    def __call__(
        self, kind: str, name: str, operation: str, payload: dict[str, Any], *, tenant_id: str, depth: int
    ) -> AsyncIterator[Any]: ...


class AppInvoker(Protocol):
    """Runs an app of the tenant for a plugin (PLUG-REVERSE-APP); the app runtime provides it."""

    def invoke_app(self, tenant_id: str, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...


def _json(item: Any) -> Any:
    return item.model_dump(mode="json") if isinstance(item, BaseModel) else item


class KernelServices:
    """Serves Kernel calls from plugins, checking each one's token and scope."""

    def __init__(self, kv: KVStore, *, kv_max_value_bytes: int, apps: AppInvoker | None = None) -> None:
        self.kv = kv
        self.kv_max_value_bytes = kv_max_value_bytes
        self.apps = apps
        self._invoke: InvokeFn | None = None
        self._scopes: dict[str, InvocationScope] = {}
        # Tokens are a random prefix plus a counter: unique, and cheap to make on every call. They
        # need not resist guessing by plugins of the same host (those share a process anyway);
        # scope_for refuses a token presented from any other host.
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    def bind(self, invoke: InvokeFn) -> None:
        """Give the services the way to invoke extensions (the supervisor, once it exists)."""
        self._invoke = invoke

    def mint(self, scope: InvocationScope) -> str:
        token = f"{self._prefix}{next(self._counter):x}"
        self._scopes[token] = scope
        return token

    def revoke(self, token: str) -> None:
        self._scopes.pop(token, None)

    def scope_for(self, token: str, group: str) -> InvocationScope:
        scope = self._scopes.get(token)
        if scope is None:
            raise PluginUnauthenticated("the invocation token is unknown or its call has ended")
        if scope.group != group:
            raise PluginUnauthenticated(
                f"the invocation token belongs to host group {scope.group!r}, not {group!r}", plugin=scope.plugin
            )
        return scope

    async def handle(self, scope: InvocationScope, method: str, payload: dict[str, Any]) -> AsyncIterator[Any]:
        """Serve one Kernel call made from the invocation ``scope``."""
        if method not in _METHODS:
            raise PluginUnimplemented(
                f"the kernel has no method {method!r}", plugin=scope.plugin, details={"methods": sorted(_METHODS)}
            )
        handler: Callable[[InvocationScope, dict[str, Any]], AsyncIterator[Any]] = getattr(self, f"_{method}")
        async for item in handler(scope, payload):
            yield item

    # -- KV ---------------------------------------------------------------------------------------

    def _key(self, scope: InvocationScope, payload: dict[str, Any]) -> str:
        key = payload.get("key")
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise PluginInvalidArgument(
                f"a KV key must be a non-empty string of at most {MAX_KEY_LENGTH} characters", plugin=scope.plugin
            )
        return key

    async def _kv_get(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        value = await self.kv.get(scope.plugin, scope.tenant_id, self._key(scope, payload))
        yield None if value is None else base64.b64encode(value).decode()

    async def _kv_set(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        key = self._key(scope, payload)
        try:
            value = base64.b64decode(payload.get("value", ""), validate=True)
        except (binascii.Error, TypeError):
            raise PluginInvalidArgument("a KV value must be base64 text", plugin=scope.plugin) from None
        if len(value) > self.kv_max_value_bytes:
            raise PluginInvalidArgument(
                f"a KV value of {len(value)} bytes exceeds the {self.kv_max_value_bytes} byte limit",
                plugin=scope.plugin,
                details={"size": len(value), "limit": self.kv_max_value_bytes},
            )
        await self.kv.set(scope.plugin, scope.tenant_id, key, value)
        yield None

    async def _kv_delete(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        await self.kv.delete(scope.plugin, scope.tenant_id, self._key(scope, payload))
        yield None

    # -- models, tools, apps ----------------------------------------------------------------------

    def _nested(self, scope: InvocationScope) -> InvokeFn:
        if scope.depth + 1 > MAX_CALL_DEPTH:
            raise PluginPermissionDenied(
                f"plugin calls nest more than {MAX_CALL_DEPTH} deep", plugin=scope.plugin, call=scope.call
            )
        if self._invoke is None:
            raise PluginUnimplemented("the kernel has no plugin supervisor to invoke through")
        return self._invoke

    async def _invoke_model(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        invoke = self._nested(scope)
        provider = payload.pop("provider", None)
        if not isinstance(provider, str):
            raise PluginInvalidArgument("invoke_model needs a 'provider' name", plugin=scope.plugin)
        async for chunk in invoke(
            "model_provider", provider, "invoke_llm", payload, tenant_id=scope.tenant_id, depth=scope.depth + 1
        ):
            yield _json(chunk)

    async def _invoke_tool(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        invoke = self._nested(scope)
        provider = payload.get("provider")
        if not isinstance(provider, str):
            raise PluginInvalidArgument("invoke_tool needs a 'provider' name", plugin=scope.plugin)
        args = {"tool": payload.get("tool"), "parameters": payload.get("parameters") or {}}
        async for message in invoke(
            "tool_provider", provider, "invoke_tool", args, tenant_id=scope.tenant_id, depth=scope.depth + 1
        ):
            yield _json(message)

    async def _invoke_app(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        self._nested(scope)
        if self.apps is None:
            raise PluginUnimplemented("this server has no app runtime to invoke apps with", plugin=scope.plugin)
        async for event in self.apps.invoke_app(scope.tenant_id, payload):
            yield event


_METHODS = frozenset({"kv_get", "kv_set", "kv_delete", "invoke_model", "invoke_tool", "invoke_app"})
