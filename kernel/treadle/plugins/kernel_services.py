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

from pydantic import ValidationError
from treadle_sdk.context import KERNEL_METHODS
from treadle_sdk.errors import (
    PluginInvalidArgument,
    PluginNotFound,
    PluginPermissionDenied,
    PluginUnauthenticated,
    PluginUnimplemented,
)
from treadle_sdk.knowledge import KnowledgeQuery

from ..files.errors import FileServiceError, FileTooLarge, NoSuchFile
from .kv import KVStore

__all__ = [
    "MAX_CALL_DEPTH",
    "MAX_KEY_LENGTH",
    "AppInvoker",
    "ConversationHistory",
    "FileSource",
    "InvocationScope",
    "InvokeFn",
    "KernelServices",
    "KnowledgeService",
    "ModelService",
    "ToolService",
]

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


class ModelService(Protocol):
    """Model calls with the workspace's mapping and credentials (treadle.models.ModelManager)."""

    def invoke(self, tenant_id: str, payload: dict[str, Any], *, depth: int) -> AsyncIterator[Any]: ...

    async def describe(self, tenant_id: str, provider: str, model: str, model_type: str) -> dict[str, Any]: ...

    async def default_model(self, tenant_id: str, model_type: str) -> dict[str, str] | None: ...


class ToolService(Protocol):
    """Tool calls of every provider type (treadle.tools.ToolManager)."""

    def invoke(self, tenant_id: str, payload: dict[str, Any], *, depth: int) -> AsyncIterator[Any]: ...

    async def describe(self, tenant_id: str, payload: dict[str, Any]) -> dict[str, Any]: ...


class ConversationHistory(Protocol):
    """The finished turns of a conversation (the app runtime provides it; memory windows read it)."""

    async def history(self, tenant_id: str, conversation_id: str, limit: int) -> list[dict[str, Any]]: ...


class FileSource(Protocol):
    """The bytes of a workspace's stored files (treadle.files.FileService); raises
    :class:`~treadle.files.NoSuchFile` and :class:`~treadle.files.FileTooLarge`."""

    def read(self, tenant_id: str, file_id: str, *, max_bytes: int | None = None) -> AsyncIterator[bytes]: ...


class KnowledgeService(Protocol):
    """Retrieval from a workspace's knowledge bases for plugins (treadle.knowledge.app_retrieval):
    the chunks found, as citation objects (:mod:`treadle_sdk.knowledge`)."""

    async def retrieve(self, tenant_id: str, query: KnowledgeQuery, *, depth: int) -> list[dict[str, Any]]: ...


class KernelServices:
    """Serves Kernel calls from plugins, checking each one's token and scope."""

    def __init__(
        self,
        kv: KVStore,
        *,
        kv_max_value_bytes: int,
        apps: AppInvoker | None = None,
        history: ConversationHistory | None = None,
    ) -> None:
        self.kv = kv
        self.kv_max_value_bytes = kv_max_value_bytes
        self.apps = apps
        self.history = history
        self.models: ModelService | None = None
        self.tools: ToolService | None = None
        #: Stored files nodes may read (``read_file``); the server sets its file service here.
        self.files: FileSource | None = None
        #: Knowledge retrieval (``retrieve_knowledge``); the server sets it once its knowledge runtime runs.
        self.knowledge: KnowledgeService | None = None
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

    # -- stored files -----------------------------------------------------------------------------

    async def _read_file(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        file_id, max_bytes = payload.get("file_id"), payload.get("max_bytes")
        if not isinstance(file_id, str) or not file_id:
            raise PluginInvalidArgument("read_file needs a 'file_id' string", plugin=scope.plugin)
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0):
            raise PluginInvalidArgument(
                "read_file's 'max_bytes' must be a whole number of at least 0", plugin=scope.plugin
            )
        if self.files is None:
            raise PluginUnimplemented("this kernel has no file storage to read files from", plugin=scope.plugin)
        try:
            # Read for the invocation's workspace: a file of another workspace is not found.
            async for piece in self.files.read(scope.tenant_id, file_id, max_bytes=max_bytes):
                yield base64.b64encode(piece).decode("ascii")
        except NoSuchFile as exc:
            raise PluginNotFound(exc.message, plugin=scope.plugin, details={"file_id": file_id}) from None
        except FileTooLarge as exc:
            raise PluginInvalidArgument(exc.message, plugin=scope.plugin, details=dict(exc.details)) from None
        except FileServiceError as exc:
            raise PluginInvalidArgument(exc.message, plugin=scope.plugin, details={"file_id": file_id}) from None

    # -- models, tools, apps ----------------------------------------------------------------------

    def _nested(self, scope: InvocationScope) -> InvokeFn:
        if scope.depth + 1 > MAX_CALL_DEPTH:
            raise PluginPermissionDenied(
                f"plugin calls nest more than {MAX_CALL_DEPTH} deep", plugin=scope.plugin, call=scope.call
            )
        if self._invoke is None:
            raise PluginUnimplemented("the kernel has no plugin supervisor to invoke through")
        return self._invoke

    def _model_service(self, scope: InvocationScope) -> ModelService:
        if self.models is None:
            raise PluginUnimplemented("this kernel has no model manager", plugin=scope.plugin)
        return self.models

    def _tool_service(self, scope: InvocationScope) -> ToolService:
        if self.tools is None:
            raise PluginUnimplemented("this kernel has no tool manager", plugin=scope.plugin)
        return self.tools

    async def _invoke_model(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        self._nested(scope)
        async for item in self._model_service(scope).invoke(scope.tenant_id, payload, depth=scope.depth + 1):
            yield item

    async def _describe_model(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        provider, model = payload.get("provider"), payload.get("model")
        if not isinstance(provider, str) or not isinstance(model, str):
            raise PluginInvalidArgument("describe_model needs a 'provider' and a 'model' name", plugin=scope.plugin)
        model_type = str(payload.get("model_type") or "llm")
        yield await self._model_service(scope).describe(scope.tenant_id, provider, model, model_type)

    async def _default_model(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        yield await self._model_service(scope).default_model(scope.tenant_id, str(payload.get("model_type") or "llm"))

    async def _invoke_tool(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        self._nested(scope)
        async for message in self._tool_service(scope).invoke(scope.tenant_id, payload, depth=scope.depth + 1):
            yield message

    async def _describe_tool(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        yield await self._tool_service(scope).describe(scope.tenant_id, payload)

    async def _conversation_history(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        conversation_id, limit = payload.get("conversation_id"), payload.get("limit", 10)
        if not isinstance(conversation_id, str) or isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise PluginInvalidArgument(
                "conversation_history needs a 'conversation_id' string and a 'limit' of at least 0",
                plugin=scope.plugin,
            )
        if self.history is None or not conversation_id or limit == 0:
            yield []
            return
        yield await self.history.history(scope.tenant_id, conversation_id, limit)

    async def _invoke_app(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        self._nested(scope)
        if self.apps is None:
            raise PluginUnimplemented("this server has no app runtime to invoke apps with", plugin=scope.plugin)
        async for event in self.apps.invoke_app(scope.tenant_id, payload):
            yield event

    # -- knowledge ----------------------------------------------------------------------------------

    async def _retrieve_knowledge(self, scope: InvocationScope, payload: dict[str, Any]) -> AsyncIterator[Any]:
        try:
            query = KnowledgeQuery.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}" for error in exc.errors()
            )
            raise PluginInvalidArgument(f"retrieve_knowledge: {problems}", plugin=scope.plugin) from None
        self._nested(scope)
        if self.knowledge is None:
            raise PluginUnimplemented("this kernel has no knowledge bases to retrieve from", plugin=scope.plugin)
        yield await self.knowledge.retrieve(scope.tenant_id, query, depth=scope.depth + 1)


_METHODS = frozenset(KERNEL_METHODS)
