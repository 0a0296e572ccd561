"""The base classes of everything a plugin registers, and the operations each kind offers.

An extension is an object with a ``schema`` (what it is) and *operations* (what the kernel may ask of
it). The operations of each kind are fixed here, in the SDK: their argument model, result type and
whether they stream. This table is the contract the dispatcher checks both directions against, the
same whether the plugin runs inline or in a host process.

Operation methods take ``(self, args, ctx)``. They may be plain functions, generators (for streaming
operations), coroutines or async generators. Plain code of an extension with ``blocking = True`` (the
default) runs in a worker thread so that it cannot stall other calls; set ``blocking = False`` on
extensions whose sync code is quick and never waits on I/O.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import enum
import inspect
import json
import math
import types
import typing
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from .context import CallContext
from .errors import (
    PluginError,
    PluginFailed,
    PluginInvalidArgument,
    PluginMalformedResponse,
    PluginNotFound,
    PluginUnimplemented,
    RegistrationError,
)
from .model_runtime import (
    CountTokensArgs,
    InvokeLLMArgs,
    InvokeModerationArgs,
    InvokeRerankArgs,
    InvokeSpeech2TextArgs,
    InvokeTextEmbeddingArgs,
    InvokeTTSArgs,
    LLMResultChunk,
    RerankResult,
    TextEmbeddingResult,
    TTSChunk,
    ValidateModelCredentialsArgs,
)
from .nodes import NodeConfigError, NodeResult, NodeRunError, PreparedNode, WireRuntime
from .schemas import (
    ModelProviderSchema,
    NodeTypeSchema,
    ProviderConfig,
    StorageSchema,
    ToolParameter,
    ToolParameterType,
    ToolProviderSchema,
    ToolSchema,
    TriggerSchema,
    VectorStoreSchema,
)
from .tool_runtime import (
    InvokeToolArgs,
    OAuthAuthorizationUrlArgs,
    OAuthCallbackRequest,
    OAuthCredentials,
    OAuthCredentialsArgs,
    OAuthRefreshArgs,
    TextMessage,
    ToolMessage,
    ValidateToolCredentialsArgs,
)
from .vector_filter import parse_vector_filter

__all__ = [
    "COLLECTION_PATTERN",
    "CollectionArgs",
    "CreateCollectionArgs",
    "DeleteVectorsArgs",
    "DeleteWhereArgs",
    "DispatchTriggerArgs",
    "Extension",
    "ExtensionKind",
    "ModelProvider",
    "NodeEvent",
    "NodeType",
    "OperationSpec",
    "RunNodeArgs",
    "SaveArgs",
    "SearchVectorsArgs",
    "StorageBackend",
    "StorageKeyArgs",
    "Tool",
    "ToolProvider",
    "Trigger",
    "TriggerConfigArgs",
    "TriggerDispatch",
    "TriggerRequest",
    "UpsertVectorsArgs",
    "VectorHit",
    "VectorRecord",
    "VectorStore",
    "operation",
    "operation_specs",
    "validate_tool_parameters",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class ExtensionKind(enum.StrEnum):
    MODEL_PROVIDER = "model_provider"
    TOOL_PROVIDER = "tool_provider"
    NODE_TYPE = "node_type"
    VECTOR_STORE = "vector_store"
    STORAGE = "storage"
    TRIGGER = "trigger"


@dataclass(frozen=True)
class OperationSpec:
    """One operation of an extension kind: its argument model, result type, and whether it streams."""

    name: str
    args: type[BaseModel]
    result: Any
    stream: bool

    def __post_init__(self) -> None:
        # Built once per operation of the contract, then reused for every call.
        object.__setattr__(self, "result_adapter", TypeAdapter(self.result))
        object.__setattr__(self, "json_closed", json_closed(self.result))


def json_closed(tp: Any) -> bool:
    """True when every value that validates as ``tp`` also encodes as JSON: no ``Any`` (nor an
    unparameterised container) anywhere inside it. Results of such types need no trial encoding."""
    if tp is Any:
        return False
    if tp in (str, int, float, bool, type(None), None):
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return all(json_closed(field.annotation) for field in tp.model_fields.values())
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return True
    origin = typing.get_origin(tp)
    if origin is Literal:
        return True
    if origin is typing.Annotated:
        return json_closed(typing.get_args(tp)[0])
    args = typing.get_args(tp)
    if origin in (list, tuple, dict, types.UnionType, typing.Union) and args:
        return all(json_closed(arg) for arg in args if arg is not Ellipsis)
    return False


def operation(args: type[BaseModel], result: Any, *, stream: bool = False) -> Callable[[F], F]:
    """Declare a method of an extension base class as an operation of the contract."""

    def mark(fn: F) -> F:
        fn.__treadle_operation__ = OperationSpec(fn.__name__, args, result, stream)  # type: ignore[attr-defined]
        return fn

    return mark


def _unimplemented(fn: F) -> F:
    fn.__treadle_default__ = True  # type: ignore[attr-defined]
    return fn


class Extension:
    """Base of every registered object. Subclasses of the kind bases set ``schema``."""

    kind: ClassVar[ExtensionKind]
    blocking: ClassVar[bool] = True
    schema: Any

    @property
    def name(self) -> str:
        return str(self.schema.name)

    async def aclose(self) -> None:
        """Release what the extension holds (HTTP clients, open files); called once when its host
        stops, inline or out of process. The default holds nothing."""
        return None

    def operations(self) -> dict[str, OperationSpec]:
        """The operations this extension implements (those its kind declares and it overrides)."""
        specs = operation_specs(self.kind)
        return {
            name: spec
            for name, spec in specs.items()
            if not getattr(getattr(type(self), name), "__treadle_default__", False)
        }

    def check(self) -> None:
        """Raise :class:`RegistrationError` if the extension is unfit to register."""
        expected = _SCHEMA_TYPES[self.kind]
        if not isinstance(getattr(self, "schema", None), expected):
            raise RegistrationError(
                f"{type(self).__name__}.schema must be a {expected.__name__}, "
                f"not {type(getattr(self, 'schema', None)).__name__}"
            )


def _unimplemented_error(ext: Extension, op: str) -> PluginUnimplemented:
    return PluginUnimplemented(f"{ext.kind.value} {ext.name!r} does not implement {op}")


# ---------------------------------------------------------------------------------------------
# Model providers
# ---------------------------------------------------------------------------------------------


class ModelProvider(Extension):
    """A model provider. Override the operations for the model types it supports."""

    kind = ExtensionKind.MODEL_PROVIDER
    schema: ModelProviderSchema

    @operation(ValidateModelCredentialsArgs, None)
    @_unimplemented
    def validate_credentials(self, args: ValidateModelCredentialsArgs, ctx: CallContext) -> None:
        """Raise if the credentials do not work (the default accepts any)."""

    @operation(InvokeLLMArgs, LLMResultChunk, stream=True)
    @_unimplemented
    def invoke_llm(self, args: InvokeLLMArgs, ctx: CallContext) -> Iterable[LLMResultChunk]:
        raise _unimplemented_error(self, "invoke_llm")

    @operation(CountTokensArgs, int)
    @_unimplemented
    def count_tokens(self, args: CountTokensArgs, ctx: CallContext) -> int:
        raise _unimplemented_error(self, "count_tokens")

    @operation(InvokeTextEmbeddingArgs, TextEmbeddingResult)
    @_unimplemented
    def invoke_text_embedding(self, args: InvokeTextEmbeddingArgs, ctx: CallContext) -> TextEmbeddingResult:
        raise _unimplemented_error(self, "invoke_text_embedding")

    @operation(InvokeRerankArgs, RerankResult)
    @_unimplemented
    def invoke_rerank(self, args: InvokeRerankArgs, ctx: CallContext) -> RerankResult:
        raise _unimplemented_error(self, "invoke_rerank")

    @operation(InvokeTTSArgs, TTSChunk, stream=True)
    @_unimplemented
    def invoke_tts(self, args: InvokeTTSArgs, ctx: CallContext) -> Iterable[TTSChunk]:
        raise _unimplemented_error(self, "invoke_tts")

    @operation(InvokeSpeech2TextArgs, str)
    @_unimplemented
    def invoke_speech2text(self, args: InvokeSpeech2TextArgs, ctx: CallContext) -> str:
        raise _unimplemented_error(self, "invoke_speech2text")

    @operation(InvokeModerationArgs, bool)
    @_unimplemented
    def invoke_moderation(self, args: InvokeModerationArgs, ctx: CallContext) -> bool:
        raise _unimplemented_error(self, "invoke_moderation")


# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------


class Tool(abc.ABC):
    """One tool of a provider.

    ``invoke`` returns a message (or a plain string, which becomes a text message) or yields several.
    It may be plain code, a generator, a coroutine or an async generator: async tools suit network
    calls (the SDK's :class:`~treadle_sdk.ssrf.SSRFGuard` client is async) and run on the host's
    event loop, while plain code runs in a worker thread as the provider's ``blocking`` says.
    """

    schema: ToolSchema

    @abc.abstractmethod
    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> ToolMessage | str | Iterable[ToolMessage | str] | Awaitable[Any] | AsyncIterable[ToolMessage | str]:
        """Run the tool on parameters already checked against ``schema.parameters``."""


def _is_async_tool(tool: Tool) -> bool:
    method = type(tool).invoke
    return inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)


_NUMBER = int | float
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def _invalid(where: str, message: str, param: ToolParameter, **details: Any) -> PluginInvalidArgument:
    return PluginInvalidArgument(f"{where} {message}", details={"parameter": param.name, **details})


def _number(where: str, param: ToolParameter, given: Any) -> int | float:
    if isinstance(given, bool) or not isinstance(given, _NUMBER | str):
        raise _invalid(where, f"must be a number, not {type(given).__name__}", param)
    value: int | float
    if isinstance(given, str):
        try:
            value = int(given) if given.strip().lstrip("+-").isdigit() else float(given)
        except ValueError:
            raise _invalid(where, f"must be a number, not {given!r}", param) from None
    else:
        value = given
    if isinstance(value, float) and not math.isfinite(value):
        raise _invalid(where, f"must be a finite number, not {value}", param)
    if param.precision is not None:
        value = round(value, param.precision) if param.precision else round(value)
    if (param.min is not None and value < param.min) or (param.max is not None and value > param.max):
        limits = (("at least", param.min), ("at most", param.max))
        bounds = " and ".join(f"{word} {bound:g}" for word, bound in limits if bound is not None)
        raise _invalid(where, f"must be {bounds}, not {value}", param, min=param.min, max=param.max)
    return value


def _boolean(where: str, param: ToolParameter, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    # Dify's editor stores boolean settings as 1 and 0.
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _invalid(where, f"must be true or false, not {value!r}", param)


def _json_text(where: str, param: ToolParameter, value: Any, wanted: type) -> Any:
    """A JSON value given as its text (what a text field of the editor holds), decoded."""
    kind = "an object" if wanted is dict else "a list"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid(where, f"must be {kind} or its JSON text", param) from None
    if not isinstance(value, wanted):
        raise _invalid(where, f"must be {kind}, not {type(value).__name__}", param)
    return value


def _file(where: str, param: ToolParameter, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid(where, f"must be a file (an object, as file variables hold), not {type(value).__name__}", param)
    return dict(value)


def _coerce_parameter(tool: ToolSchema, param: ToolParameter, value: Any) -> Any:
    where = f"parameter {param.name!r} of tool {tool.name!r}"
    kind = param.type
    if kind == ToolParameterType.NUMBER:
        return _number(where, param, value)
    if kind == ToolParameterType.BOOLEAN:
        return _boolean(where, param, value)
    if kind == ToolParameterType.SELECT:
        options = [o.value for o in param.options]
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if options and text not in options:
            # Dify writes boolean-like options both ways ("True" and "true").
            folded = {o.lower(): o for o in options}
            if text.lower() not in folded:
                raise _invalid(where, f"must be one of {options}, not {value!r}", param, options=options)
            text = folded[text.lower()]
        return text
    if kind in (ToolParameterType.STRING, ToolParameterType.SECRET_INPUT):
        if isinstance(value, dict | list):
            raise _invalid(where, f"must be text, not {type(value).__name__}", param)
        return value if isinstance(value, str) else str(value)
    if kind == ToolParameterType.FILE:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        return _file(where, param, value)
    if kind == ToolParameterType.FILES:
        items = value if isinstance(value, list) else [value]
        return [_file(f"{where} (item {i})", param, item) for i, item in enumerate(items)]
    if kind == ToolParameterType.MODEL_SELECTOR:
        model = _json_text(where, param, value, dict)
        missing = [key for key in ("provider", "model") if not isinstance(model.get(key), str) or not model[key]]
        if missing:
            raise _invalid(where, f"must name a model: {' and '.join(map(repr, missing))} missing", param)
        if param.scope and model.get("model_type") not in (None, param.scope):
            raise _invalid(where, f"must be a {param.scope!r} model, not {model['model_type']!r}", param)
        return model
    if kind == ToolParameterType.APP_SELECTOR:
        # A bare app id is what an agent's model most often sends.
        bare = isinstance(value, str) and not value.lstrip().startswith("{")
        app = _json_text(where, param, {"app_id": value} if bare else value, dict)
        if not isinstance(app.get("app_id"), str) or not app["app_id"]:
            raise _invalid(where, "must name an app: 'app_id' missing", param)
        return app
    if kind == ToolParameterType.TOOLS_SELECTOR:
        tools = _json_text(where, param, value, list)
        if not all(isinstance(t, dict) for t in tools):
            raise _invalid(where, "must be a list of tools (objects)", param)
        return tools
    if kind == ToolParameterType.OBJECT:
        return _json_text(where, param, value, dict)
    if kind == ToolParameterType.ARRAY:
        return _json_text(where, param, value, list)
    return value


def validate_tool_parameters(tool: ToolSchema, parameters: dict[str, Any]) -> dict[str, Any]:
    """Check and coerce parameters against a tool's schema; defaults fill what is missing.

    Raises :class:`PluginInvalidArgument` naming the parameter (``details.parameter``) and what was
    wrong: an unknown name, a required one missing, or a value that is not of its type.
    """
    known = {p.name for p in tool.parameters}
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise PluginInvalidArgument(
            f"tool {tool.name!r} has no parameter(s) {', '.join(map(repr, unknown))}",
            details={"unknown": unknown, "known": sorted(known)},
        )
    out: dict[str, Any] = {}
    for param in tool.parameters:
        value = parameters.get(param.name)
        if value is None or value == "" or (value == [] and param.type == ToolParameterType.FILES):
            if param.default is not None:
                value = param.default
            elif param.required:
                raise PluginInvalidArgument(
                    f"parameter {param.name!r} of tool {tool.name!r} is required",
                    details={"parameter": param.name},
                )
            else:
                continue
        out[param.name] = _coerce_parameter(tool, param, value)
    return out


def _messages(result: Any) -> Iterable[Any]:
    if isinstance(result, BaseModel | dict | str):
        return [result]
    return cast(Iterable[Any], result)


#: How often a worker thread waiting for an async tool looks whether the caller gave up. The flag it
#: reads is a plain bool (CancelFlag), which cannot wake a waiter.
_CANCEL_CHECK = 0.25


def _on_loop(ctx: CallContext, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on the host's event loop from a worker thread; it is cancelled when the caller
    gives up or the call's deadline passes (raising :class:`PluginCancelled` or :class:`PluginTimeout`)."""
    future = asyncio.run_coroutine_threadsafe(work, ctx.kernel._loop)
    while True:
        left = ctx.time_left()
        wait = _CANCEL_CHECK if left is None else max(0.0, min(left, _CANCEL_CHECK))
        concurrent.futures.wait([future], timeout=wait)
        if future.done():
            return future.result()
        try:
            ctx.check()
        except PluginError:
            future.cancel()
            raise


async def _awaited(pending: Awaitable[T]) -> T:
    return await pending


def _pull(ctx: CallContext, messages: AsyncIterator[Any]) -> Iterator[Any]:
    """The items of an async tool's stream, one at a time, for the provider's plain ``invoke_tool``."""

    async def next_item() -> tuple[bool, Any]:
        try:
            return False, await anext(messages)
        except StopAsyncIteration:
            return True, None

    finished = False
    try:
        while True:
            finished, item = _on_loop(ctx, next_item())
            if finished:
                return
            yield item
    finally:
        close = getattr(messages, "aclose", None)
        if not finished and close is not None:
            # Stopped early (the caller went away, or the deadline passed): the tool's own cleanup
            # runs on the loop; nobody waits for it.
            asyncio.run_coroutine_threadsafe(close(), ctx.kernel._loop)


class ToolProvider(Extension):
    """A tool provider: credentials plus a list of tools (PLUG-TYPE-TOOL), and optionally OAuth.

    The provider serves ``invoke_tool`` itself, from its ``tools``. To offer OAuth (PLUG-TOOL-OAUTH),
    declare ``schema.oauth_schema`` and override :meth:`oauth_get_authorization_url`,
    :meth:`oauth_get_credentials` and :meth:`oauth_refresh_credentials` (plain or async); the provider
    then serves the ``oauth_authorization_url``, ``oauth_credentials`` and ``oauth_refresh`` operations,
    checking what goes in and what comes out.
    """

    kind = ExtensionKind.TOOL_PROVIDER
    schema: ToolProviderSchema
    tools: list[Tool]

    def check(self) -> None:
        super().check()
        tools = getattr(self, "tools", None)
        well_formed = (isinstance(t, Tool) and isinstance(getattr(t, "schema", None), ToolSchema) for t in tools or ())
        if not tools or not all(well_formed):
            raise RegistrationError(f"tool provider {self.name!r} must list Tool objects with a ToolSchema in .tools")
        names = [t.schema.name for t in tools]
        if len(set(names)) != len(names):
            raise RegistrationError(f"tool provider {self.name!r} lists a tool name twice: {names}")
        asynchronous = [t.schema.name for t in tools if _is_async_tool(t)]
        if asynchronous and not self.blocking:
            raise RegistrationError(
                f"tool provider {self.name!r} has async tools ({', '.join(asynchronous)}): it must keep "
                "blocking = True, which runs its plain code off the event loop"
            )
        hooks = [hook for hook in _OAUTH_HOOKS if _overrides(self, hook)]
        if self.schema.oauth_schema is not None and len(hooks) < len(_OAUTH_HOOKS):
            missing = [hook for hook in _OAUTH_HOOKS if hook not in hooks]
            raise RegistrationError(
                f"tool provider {self.name!r} declares an oauth_schema but does not implement {', '.join(missing)}"
            )
        if self.schema.oauth_schema is None and hooks:
            raise RegistrationError(
                f"tool provider {self.name!r} implements {', '.join(hooks)} but declares no schema.oauth_schema"
            )

    def operations(self) -> dict[str, OperationSpec]:
        specs = super().operations()
        if self.schema.oauth_schema is None:
            for name in _OAUTH_OPERATIONS:
                specs.pop(name, None)
        return specs

    def describe(self) -> ToolProviderSchema:
        """The provider schema with its tools' schemas filled in."""
        return self.schema.model_copy(update={"tools": [t.schema for t in self.tools]})

    def get_tool(self, name: str) -> Tool:
        for tool in self.tools:
            if tool.schema.name == name:
                return tool
        raise PluginNotFound(
            f"tool provider {self.name!r} has no tool {name!r}",
            details={"tools": [t.schema.name for t in self.tools]},
        )

    @operation(ValidateToolCredentialsArgs, None)
    @_unimplemented
    def validate_credentials(self, args: ValidateToolCredentialsArgs, ctx: CallContext) -> None:
        """Raise if the credentials do not work (the default accepts any)."""

    @operation(InvokeToolArgs, ToolMessage, stream=True)
    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> Iterator[Any]:
        tool = self.get_tool(args.tool)
        parameters = validate_tool_parameters(tool.schema, args.parameters)
        result: Any = tool.invoke(parameters, ctx, args.credentials)
        # Async tools run on the event loop; this plain code runs in a worker thread (check() makes
        # sure of it) and hands their messages on as they come.
        if inspect.isawaitable(result):
            result = _on_loop(ctx, _awaited(result))
        if isinstance(result, AsyncIterator):
            result = _pull(ctx, result)
        for message in _messages(result):
            yield TextMessage(text=message) if isinstance(message, str) else message

    # -- OAuth (PLUG-TOOL-OAUTH) ---------------------------------------------------------------

    def oauth_get_authorization_url(
        self, redirect_uri: str, system_credentials: dict[str, Any], ctx: CallContext
    ) -> str | Awaitable[str]:
        """The URL of the service's consent page for this client, sending the user back to
        ``redirect_uri`` (pass it unchanged). Override to offer OAuth."""
        raise _unimplemented_error(self, "oauth_get_authorization_url")

    def oauth_get_credentials(
        self,
        redirect_uri: str,
        system_credentials: dict[str, Any],
        request: OAuthCallbackRequest,
        ctx: CallContext,
    ) -> OAuthCredentials | Awaitable[OAuthCredentials]:
        """Exchange the authorization code of the callback ``request`` for credentials (never
        including the client secret). Raise :class:`PluginInvalidArgument` when the request carries
        an error or no code. Override to offer OAuth."""
        raise _unimplemented_error(self, "oauth_get_credentials")

    def oauth_refresh_credentials(
        self,
        redirect_uri: str,
        system_credentials: dict[str, Any],
        credentials: dict[str, Any],
        ctx: CallContext,
    ) -> OAuthCredentials | Awaitable[OAuthCredentials]:
        """Fresh credentials from stored ones (their refresh token). The kernel calls it when the
        stored ones are about to expire. Override to offer OAuth."""
        raise _unimplemented_error(self, "oauth_refresh_credentials")

    @operation(OAuthAuthorizationUrlArgs, str)
    async def oauth_authorization_url(self, args: OAuthAuthorizationUrlArgs, ctx: CallContext) -> str:
        system = self._system_credentials(args.system_credentials)
        url = await self._oauth_hook(self.oauth_get_authorization_url, args.redirect_uri, system, ctx)
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise PluginMalformedResponse(
                f"oauth_get_authorization_url must return an absolute http(s) URL, not {str(url)[:200]!r}"
            )
        return str(url)

    @operation(OAuthCredentialsArgs, OAuthCredentials)
    async def oauth_credentials(self, args: OAuthCredentialsArgs, ctx: CallContext) -> OAuthCredentials:
        system = self._system_credentials(args.system_credentials)
        result = await self._oauth_hook(self.oauth_get_credentials, args.redirect_uri, system, args.request, ctx)
        return self._checked_credentials("oauth_get_credentials", result, system)

    @operation(OAuthRefreshArgs, OAuthCredentials)
    async def oauth_refresh(self, args: OAuthRefreshArgs, ctx: CallContext) -> OAuthCredentials:
        system = self._system_credentials(args.system_credentials)
        result = await self._oauth_hook(
            self.oauth_refresh_credentials, args.redirect_uri, system, dict(args.credentials), ctx
        )
        return self._checked_credentials("oauth_refresh_credentials", result, system)

    def _client_schema(self) -> list[ProviderConfig]:
        oauth = self.schema.oauth_schema
        return list(oauth.client_schema) if oauth is not None else []

    def _system_credentials(self, given: dict[str, Any]) -> dict[str, Any]:
        missing = [f.name for f in self._client_schema() if f.required and given.get(f.name) in (None, "")]
        if missing:
            raise PluginInvalidArgument(
                f"the OAuth client settings of tool provider {self.name!r} lack {', '.join(map(repr, missing))} "
                "(oauth_schema.client_schema)",
                details={"missing": missing},
            )
        return dict(given)

    async def _oauth_hook(self, hook: Callable[..., Any], *args: Any) -> Any:
        if inspect.iscoroutinefunction(hook):
            return await hook(*args)
        result = await asyncio.to_thread(hook, *args) if self.blocking else hook(*args)
        return await result if inspect.isawaitable(result) else result

    def _checked_credentials(self, hook: str, result: Any, system: dict[str, Any]) -> OAuthCredentials:
        try:
            credentials = OAuthCredentials.model_validate(result)
        except ValidationError as exc:
            raise PluginMalformedResponse(
                f"{hook} must return OAuthCredentials, not {type(result).__name__}: {exc.errors()[0]['msg']}"
            ) from None
        secrets = {f.name: system.get(f.name) for f in self._client_schema() if "secret" in f.name.lower()}
        for name, secret in secrets.items():
            leaked = name in credentials.credentials or (
                isinstance(secret, str) and secret and secret in credentials.credentials.values()
            )
            if leaked:
                raise PluginMalformedResponse(
                    f"{hook} returned the client's {name!r} among the credentials; credentials must "
                    "never include the client's secrets"
                )
        return credentials


_OAUTH_HOOKS = ("oauth_get_authorization_url", "oauth_get_credentials", "oauth_refresh_credentials")
_OAUTH_OPERATIONS = ("oauth_authorization_url", "oauth_credentials", "oauth_refresh")


def _overrides(provider: ToolProvider, hook: str) -> bool:
    return getattr(type(provider), hook) is not getattr(ToolProvider, hook)


# ---------------------------------------------------------------------------------------------
# Node types
# ---------------------------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunNodeArgs(_Wire):
    node_id: str
    #: The node's DSL ``data``.
    config: dict[str, Any]
    #: The variables the node reads, as ``[selector, value]`` pairs.
    variables: list[tuple[list[str], Any]] = Field(default_factory=list)


class NodeEvent(_Wire):
    """What a node run streams: text chunks, assignments and log entries as they happen, then one
    ``result``."""

    type: Literal["chunk", "assign", "log", "result"]
    #: ``chunk``: the output variable the text belongs to, and the text.
    variable: str | None = None
    chunk: str | None = None
    #: ``assign``: the variable written and its new value; ``log``: the entry (in ``value``).
    selector: list[str] | None = None
    value: Any = None
    #: ``result``: the node's outputs and the branch handle it chose.
    outputs: dict[str, Any] | None = None
    handle: str | None = None
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None


class NodeType(Extension):
    """A workflow node type; ``schema.name`` is the DSL node ``type`` it runs.

    Subclasses implement :meth:`prepare`. The ``run`` operation, which runs a node in a plugin host,
    is built on it: node authors write the node once for both placements.
    """

    kind = ExtensionKind.NODE_TYPE
    schema: NodeTypeSchema

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        """Check one node's configuration and return it ready to run; raise
        :class:`~treadle_sdk.nodes.NodeConfigError` naming the field that is wrong."""
        raise NodeConfigError(f"node type {self.name!r} does not implement prepare()")

    @operation(RunNodeArgs, NodeEvent, stream=True)
    async def run(self, args: RunNodeArgs, ctx: CallContext) -> AsyncIterator[NodeEvent]:
        try:
            prepared = self.prepare(args.node_id, args.config)
        except NodeConfigError as exc:
            raise PluginInvalidArgument(str(exc), details={"path": exc.path}) from None
        variables = {tuple(selector): value for selector, value in args.variables}
        if not self.blocking and not inspect.iscoroutinefunction(type(prepared).run):
            # Quick sync code: run it here and send what it emitted with its result (it cannot
            # stream anyway: it holds the loop until it returns).
            quick = WireRuntime(args.node_id, variables, kernel=ctx.kernel)
            try:
                result = prepared.run(quick)
            except NodeRunError as exc:
                raise PluginFailed(exc.message, details={"error_type": exc.error_type}) from exc
            for variable, chunk in quick.chunks:
                yield NodeEvent(type="chunk", variable=variable, chunk=chunk)
            for selector, value in quick.assignments:
                yield NodeEvent(type="assign", selector=list(selector), value=value)
            for entry in quick.logs:
                yield NodeEvent(type="log", value=entry)
            yield self._result_event(result)
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[NodeEvent | None] = asyncio.Queue()

        def push(happened: tuple[str, Any, Any]) -> None:
            # Called from the node's code, on the loop or in a worker thread: chunks leave as they come.
            kind, first, second = happened
            if kind == "chunk":
                event = NodeEvent(type="chunk", variable=first, chunk=second)
            elif kind == "assign":
                event = NodeEvent(type="assign", selector=list(first), value=second)
            else:
                event = NodeEvent(type="log", value=second)
            loop.call_soon_threadsafe(events.put_nowait, event)

        rt = WireRuntime(args.node_id, variables, on_event=push, kernel=ctx.kernel)

        async def work() -> Any:
            if inspect.iscoroutinefunction(type(prepared).run):
                return await prepared.run(rt)
            if self.blocking:
                return await asyncio.to_thread(prepared.run, rt)
            return prepared.run(rt)

        task = asyncio.ensure_future(work())
        # Queued after every push the node made, so it marks the end of its events.
        task.add_done_callback(lambda _task: loop.call_soon_threadsafe(events.put_nowait, None))
        try:
            while (event := await events.get()) is not None:
                yield event
            result = task.result()
        except NodeRunError as exc:
            # The engine's error strategies expose error_type: keep it across the boundary.
            raise PluginFailed(exc.message, details={"error_type": exc.error_type}) from exc
        finally:
            task.cancel()
        yield self._result_event(result)

    def _result_event(self, result: Any) -> NodeEvent:
        if not isinstance(result, NodeResult):
            raise PluginMalformedResponse(f"node type {self.name!r} returned {type(result).__name__}, not NodeResult")
        return NodeEvent(
            type="result",
            outputs=result.outputs,
            handle=result.handle,
            inputs=result.inputs,
            process_data=result.process_data,
        )


# ---------------------------------------------------------------------------------------------
# Vector stores
# ---------------------------------------------------------------------------------------------
#
# The contract every vector store keeps (faiss, pgvector, Qdrant; KB-RET-VECTOR):
# - scores are cosine similarities (vectors are compared normalised): 1.0 is the same direction;
# - ``filter`` is the language of :mod:`treadle_sdk.vector_filter`, identical in every store;
# - a missing collection reads as empty (``search`` gives [], ``count`` 0, deletes 0, drop is a
#   no-op), but ``upsert`` into it fails with ``not_found``: collections are created explicitly, with
#   their dimension, by ``create_collection``.

#: Collection names: what the kernel derives from dataset ids (``vector_index_<uuid>``). Stores turn
#: them into table, file or collection names, so punctuation other than ``_`` and ``-`` is kept out.
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$"

#: A vector: finite numbers only (JSON has no NaN, and a NaN would poison every score).
Vector = list[Annotated[float, Field(allow_inf_nan=False)]]


def _direction(vector: list[float], what: str) -> list[float]:
    if not vector:
        raise ValueError(f"{what} is empty")
    if not any(vector):
        raise ValueError(f"{what} is all zeros, which has no direction to compare by cosine")
    return vector


class VectorRecord(_Wire):
    """One vector and what it stands for (a chunk of a document)."""

    #: The caller's id of the record; upserting the same id again replaces the record.
    id: str = Field(min_length=1, max_length=256)
    #: The embedding; its length must be the collection's dimension, and it may not be all zeros.
    vector: Vector
    #: The text the vector was made from, given back with hits.
    text: str = ""
    #: JSON values describing the record (``document_id``, ``dataset_id``, ...), given back with hits
    #: and matched by filters.
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_direction(self) -> VectorRecord:
        _direction(self.vector, f"the vector of record {self.id!r}")
        return self


class VectorHit(_Wire):
    """A record found by ``search``."""

    id: str
    #: Cosine similarity to the query vector, from -1 to 1; 1.0 is the same direction.
    score: float
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class CollectionArgs(_Wire):
    """Names a collection; base of every vector store operation's arguments."""

    #: The collection (one per dataset, in the kernel's use), ``[A-Za-z0-9][A-Za-z0-9_-]{0,127}``.
    collection: str = Field(pattern=COLLECTION_PATTERN)
    #: The store's settings, as the kernel's ``[vectors]`` section gives them; each store documents
    #: its fields in its schema's ``config_schema`` (faiss ``path``; pgvector ``dsn``; Qdrant ``url``,
    #: ``path`` or ``location``).
    config: dict[str, Any] = Field(default_factory=dict)


class CreateCollectionArgs(CollectionArgs):
    """Create a collection of vectors of ``dimension`` numbers. Creating one that exists with the
    same dimension does nothing; with another dimension it fails with ``invalid_argument``, naming both."""

    dimension: int = Field(gt=0, le=65536)


class UpsertVectorsArgs(CollectionArgs):
    """Write records into an existing collection; a record whose id is already there replaces it. A
    vector of the wrong length fails the call (naming the record) before anything is written."""

    records: list[VectorRecord]


class SearchVectorsArgs(CollectionArgs):
    """Find the ``top_k`` records most similar to ``vector``, best first."""

    #: The query embedding: the collection's dimension, not all zeros.
    vector: Vector
    top_k: int = Field(default=4, gt=0, le=10000)
    #: Metadata conditions, all of which a hit must meet (:mod:`treadle_sdk.vector_filter`); None or
    #: ``{}`` for none.
    filter: dict[str, Any] | None = None
    #: Hits with a lower cosine similarity are left out (the score threshold of KB-RET-VECTOR).
    score_threshold: float | None = Field(default=None, ge=-1.0, le=1.0)

    @field_validator("vector")
    @classmethod
    def _has_direction(cls, vector: list[float]) -> list[float]:
        return _direction(vector, "the query vector")

    @field_validator("filter")
    @classmethod
    def _filter_language(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        parse_vector_filter(value)
        return value


class DeleteVectorsArgs(CollectionArgs):
    """Delete the records of ``ids``; ids that are not there are ignored."""

    ids: list[str]


class DeleteWhereArgs(CollectionArgs):
    """Delete every record that meets ``filter`` (say, every chunk of a document). The filter needs at
    least one condition: ``drop_collection`` is how everything goes."""

    filter: dict[str, Any]

    @field_validator("filter")
    @classmethod
    def _filter_language(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not parse_vector_filter(value):
            raise ValueError("delete_where needs at least one condition (drop_collection removes everything)")
        return value


class VectorStore(Extension):
    """A vector store backend for knowledge bases (KB-RET-VECTOR).

    A store keeps named collections of :class:`VectorRecord`; each collection has one dimension. The
    section comment above states what every store guarantees: cosine scores, one filter language, and
    what a missing collection does.
    """

    kind = ExtensionKind.VECTOR_STORE
    schema: VectorStoreSchema

    @operation(CreateCollectionArgs, None)
    @_unimplemented
    def create_collection(self, args: CreateCollectionArgs, ctx: CallContext) -> None:
        """Create the collection; idempotent for the same dimension."""
        raise _unimplemented_error(self, "create_collection")

    @operation(UpsertVectorsArgs, int)
    @_unimplemented
    def upsert(self, args: UpsertVectorsArgs, ctx: CallContext) -> int:
        """Write the records; returns how many were written. Fails with ``not_found`` when the
        collection does not exist, and with ``invalid_argument`` for a vector of the wrong length."""
        raise _unimplemented_error(self, "upsert")

    @operation(SearchVectorsArgs, list[VectorHit])
    @_unimplemented
    def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
        """The best hits, best first, by cosine similarity; [] for a missing collection."""
        raise _unimplemented_error(self, "search")

    @operation(DeleteVectorsArgs, int)
    @_unimplemented
    def delete(self, args: DeleteVectorsArgs, ctx: CallContext) -> int:
        """Delete records by id; returns how many were there."""
        raise _unimplemented_error(self, "delete")

    @operation(DeleteWhereArgs, int)
    @_unimplemented
    def delete_where(self, args: DeleteWhereArgs, ctx: CallContext) -> int:
        """Delete the records meeting the filter; returns how many were deleted."""
        raise _unimplemented_error(self, "delete_where")

    @operation(CollectionArgs, int)
    @_unimplemented
    def count(self, args: CollectionArgs, ctx: CallContext) -> int:
        """How many records the collection holds; 0 when it does not exist."""
        raise _unimplemented_error(self, "count")

    @operation(CollectionArgs, None)
    @_unimplemented
    def drop_collection(self, args: CollectionArgs, ctx: CallContext) -> None:
        """Remove the collection and its records; nothing happens if it does not exist."""
        raise _unimplemented_error(self, "drop_collection")


# ---------------------------------------------------------------------------------------------
# Storage backends
# ---------------------------------------------------------------------------------------------


class StorageKeyArgs(_Wire):
    key: str
    config: dict[str, Any] = Field(default_factory=dict)


class SaveArgs(StorageKeyArgs):
    #: The bytes, base64-encoded.
    data: str


class StorageBackend(Extension):
    """A file storage backend. ``load`` streams the file as base64 pieces."""

    kind = ExtensionKind.STORAGE
    schema: StorageSchema

    @operation(SaveArgs, None)
    @_unimplemented
    def save(self, args: SaveArgs, ctx: CallContext) -> None:
        raise _unimplemented_error(self, "save")

    @operation(StorageKeyArgs, str, stream=True)
    @_unimplemented
    def load(self, args: StorageKeyArgs, ctx: CallContext) -> Iterable[str]:
        raise _unimplemented_error(self, "load")

    @operation(StorageKeyArgs, bool)
    @_unimplemented
    def exists(self, args: StorageKeyArgs, ctx: CallContext) -> bool:
        raise _unimplemented_error(self, "exists")

    @operation(StorageKeyArgs, None)
    @_unimplemented
    def delete(self, args: StorageKeyArgs, ctx: CallContext) -> None:
        raise _unimplemented_error(self, "delete")


# ---------------------------------------------------------------------------------------------
# Triggers
# ---------------------------------------------------------------------------------------------


class TriggerConfigArgs(_Wire):
    config: dict[str, Any] = Field(default_factory=dict)


class TriggerRequest(_Wire):
    method: str = "POST"
    path: str = "/"
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    body: str = ""


class DispatchTriggerArgs(TriggerConfigArgs):
    request: TriggerRequest


class TriggerDispatch(_Wire):
    """The runs a request starts (one inputs object each) and the HTTP answer to give the sender."""

    events: list[dict[str, Any]] = Field(default_factory=list)
    status: int = 200
    body: str = ""


class Trigger(Extension):
    """A trigger that turns outside requests (webhooks, subscriptions) into workflow runs."""

    kind = ExtensionKind.TRIGGER
    schema: TriggerSchema

    @operation(TriggerConfigArgs, dict)
    @_unimplemented
    def validate_config(self, args: TriggerConfigArgs, ctx: CallContext) -> dict[str, Any]:
        raise _unimplemented_error(self, "validate_config")

    @operation(DispatchTriggerArgs, TriggerDispatch)
    @_unimplemented
    def dispatch(self, args: DispatchTriggerArgs, ctx: CallContext) -> TriggerDispatch:
        raise _unimplemented_error(self, "dispatch")


_BASES: dict[ExtensionKind, type[Extension]] = {
    ExtensionKind.MODEL_PROVIDER: ModelProvider,
    ExtensionKind.TOOL_PROVIDER: ToolProvider,
    ExtensionKind.NODE_TYPE: NodeType,
    ExtensionKind.VECTOR_STORE: VectorStore,
    ExtensionKind.STORAGE: StorageBackend,
    ExtensionKind.TRIGGER: Trigger,
}

_SCHEMA_TYPES: dict[ExtensionKind, type[BaseModel]] = {
    ExtensionKind.MODEL_PROVIDER: ModelProviderSchema,
    ExtensionKind.TOOL_PROVIDER: ToolProviderSchema,
    ExtensionKind.NODE_TYPE: NodeTypeSchema,
    ExtensionKind.VECTOR_STORE: VectorStoreSchema,
    ExtensionKind.STORAGE: StorageSchema,
    ExtensionKind.TRIGGER: TriggerSchema,
}

_SPECS: dict[ExtensionKind, dict[str, OperationSpec]] = {
    kind: {
        name: member.__treadle_operation__
        for name, member in vars(base).items()
        if hasattr(member, "__treadle_operation__")
    }
    for kind, base in _BASES.items()
}


def operation_specs(kind: ExtensionKind | str) -> dict[str, OperationSpec]:
    """The operations an extension kind declares, by name."""
    return _SPECS[ExtensionKind(kind)]


def base_class(kind: ExtensionKind | str) -> type[Extension]:
    """The SDK base class of an extension kind."""
    return _BASES[ExtensionKind(kind)]
