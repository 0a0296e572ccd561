"""Running one operation of one registered extension: the core both hosts share.

The :class:`Dispatcher` checks the arguments against the operation's argument model, runs the
plugin's method the way its shape asks (async, generator, blocking in a worker thread), and checks
every result against the operation's result type. Whatever goes wrong comes out as a typed
:class:`~treadle_sdk.errors.PluginError` naming the plugin and the call.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from .context import CallContext
from .errors import (
    PluginError,
    PluginFailed,
    PluginInvalidArgument,
    PluginMalformedResponse,
    PluginNotFound,
)
from .extensions import Extension, ExtensionKind, OperationSpec
from .registry import ExtensionEntry, ExtensionTable

__all__ = ["Dispatcher", "call_name", "unencodable"]

_DONE = object()
_ASYNC_GEN = "async-generator"
_COROUTINE = "coroutine"
_ON_LOOP = "on-loop"
_IN_THREAD = "in-thread"


def call_name(kind: str, name: str, operation: str) -> str:
    """How errors and logs name a call: ``kind/name.operation``."""
    return f"{kind}/{name}.{operation}"


def unencodable(exc: PydanticSerializationError, *, plugin: str, call: str) -> PluginMalformedResponse:
    """The error for a result that passed its type check but has no JSON form (an arbitrary object
    where the type allows any value)."""
    return PluginMalformedResponse(f"the plugin returned a result JSON cannot encode: {exc}", plugin=plugin, call=call)


def _stream_of(result: Any, entry: ExtensionEntry, ctx: CallContext) -> Any:
    """``result`` if it can be a streaming operation's results, else the malformed-response error."""
    if isinstance(result, str | bytes | dict) or not hasattr(result, "__iter__"):
        raise PluginMalformedResponse(
            f"a streaming operation must return an iterable of results, not {type(result).__name__}",
            plugin=entry.plugin,
            call=ctx.call,
        )
    return result


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ".".join(map(str, err["loc"])), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


class Dispatcher:
    """Runs operations of the extensions in ``table``; blocking plugin code runs on ``executor``.

    With ``check_json``, every result must also encode as JSON, as it must to leave a host process:
    a host that runs plugins in the kernel's own process sets it, so that a plugin failing there
    fails the same way inline.
    """

    def __init__(self, table: ExtensionTable, executor: Executor, *, check_json: bool = False) -> None:
        self.table = table
        self.executor = executor
        self.check_json = check_json
        self._shapes: dict[tuple[type[Extension], str], str] = {}

    def shape(self, cls: type[Extension], operation: str) -> str:
        """How an operation of an extension class runs: async generator, coroutine, on the loop or
        in a worker thread. Cached: it is asked on every call."""
        key = (cls, operation)
        shape = self._shapes.get(key)
        if shape is None:
            method = getattr(cls, operation)
            if inspect.isasyncgenfunction(method):
                shape = _ASYNC_GEN
            elif inspect.iscoroutinefunction(method):
                shape = _COROUTINE
            else:
                shape = _IN_THREAD if cls.blocking else _ON_LOOP
            self._shapes[key] = shape
        return shape

    def awaits(self, kind: str, name: str, operation: str) -> bool:
        """Whether a call may suspend (and so can be interrupted by a deadline)."""
        entry, _ = self.resolve(kind, name, operation)
        assert entry.extension is not None
        return self.shape(type(entry.extension), operation) is not _ON_LOOP

    def resolve(self, kind: str, name: str, operation: str) -> tuple[ExtensionEntry, OperationSpec]:
        call = call_name(kind, name, operation)
        try:
            kind_enum = ExtensionKind(kind)
        except ValueError:
            raise PluginNotFound(
                f"there is no extension kind {kind!r}",
                call=call,
                details={"kinds": [k.value for k in ExtensionKind]},
            ) from None
        entry = self.table.get(kind_enum, name)
        if entry is None or entry.extension is None:
            raise PluginNotFound(
                f"no {kind} named {name!r} is loaded",
                call=call,
                details={"available": self.table.names(kind_enum)},
            )
        spec = entry.extension.operations().get(operation)
        if spec is None:
            raise PluginNotFound(
                f"{kind} {name!r} has no operation {operation!r}",
                plugin=entry.plugin,
                call=call,
                details={"operations": list(entry.operations)},
            )
        return entry, spec

    def _prepare(
        self, kind: str, name: str, operation: str, payload: dict[str, Any] | bytes, ctx: CallContext
    ) -> tuple[ExtensionEntry, OperationSpec, Any]:
        entry, spec = self.resolve(kind, name, operation)
        ctx.plugin = entry.plugin
        try:
            if isinstance(payload, bytes):
                args = spec.args.model_validate_json(payload or b"{}")
            else:
                args = spec.args.model_validate(payload)
        except ValidationError as exc:
            raise PluginInvalidArgument(
                f"invalid arguments: {exc.error_count()} error(s), first at "
                f"{'.'.join(map(str, exc.errors()[0]['loc'])) or '(root)'}: {exc.errors()[0]['msg']}",
                plugin=entry.plugin,
                call=ctx.call,
                details={"errors": _errors(exc)},
            ) from None
        return entry, spec, args

    @staticmethod
    def _failure(exc: Exception, entry: ExtensionEntry, ctx: CallContext) -> PluginError:
        """The typed error for what the plugin raised, naming the plugin and the call."""
        if isinstance(exc, PluginError):
            if not exc.plugin:
                exc.plugin = entry.plugin
            if not exc.call:
                exc.call = ctx.call
            exc.args = (exc._render(),)
            return exc
        return PluginFailed(
            f"the plugin raised {type(exc).__name__}: {exc}",
            plugin=entry.plugin,
            call=ctx.call,
            details={"exception_type": type(exc).__name__},
        )

    def run_now(
        self, kind: str, name: str, operation: str, payload: dict[str, Any] | bytes, ctx: CallContext
    ) -> list[Any] | None:
        """Run a call at once if its code is quick sync code meant for the loop (``blocking =
        False``), returning all its results; None if the call must run as :meth:`invoke`.

        Hosts use this to answer such calls within the same turn of the event loop that read them.
        """
        entry, spec = self.resolve(kind, name, operation)
        assert entry.extension is not None
        if self.shape(type(entry.extension), operation) is not _ON_LOOP:
            return None
        entry, spec, args = self._prepare(kind, name, operation, payload, ctx)
        try:
            return self._sync_results(spec, entry, ctx, getattr(entry.extension, operation)(args, ctx))
        except Exception as exc:
            failure = self._failure(exc, entry, ctx)
            if failure is exc:
                raise
            raise failure from exc

    async def invoke(
        self, kind: str, name: str, operation: str, payload: dict[str, Any] | bytes, ctx: CallContext
    ) -> AsyncIterator[Any]:
        """Yield the validated results of one call (one item for a non-streaming operation).

        ``payload`` is the arguments object, or its JSON text as it came off the wire.
        """
        entry, spec, args = self._prepare(kind, name, operation, payload, ctx)
        ext = entry.extension
        assert ext is not None
        method = getattr(ext, operation)
        shape = self.shape(type(ext), operation)
        try:
            if shape is _ASYNC_GEN:
                async for item in method(args, ctx):
                    yield self._check(spec, entry, ctx, item)
            elif shape is _COROUTINE:
                for item in self._sync_results(spec, entry, ctx, await method(args, ctx)):
                    yield item
            elif shape is _ON_LOOP:
                for item in self._sync_results(spec, entry, ctx, method(args, ctx)):
                    yield item
            elif spec.stream:
                async for item in self._stream_in_thread(spec, entry, ctx, method, args):
                    yield item
            else:
                result = await asyncio.get_running_loop().run_in_executor(self.executor, method, args, ctx)
                yield self._check(spec, entry, ctx, result)
        except (asyncio.CancelledError, GeneratorExit):
            ctx.cancelled.set()
            raise
        except Exception as exc:
            failure = self._failure(exc, entry, ctx)
            if failure is exc:
                raise
            raise failure from exc

    def _sync_results(self, spec: OperationSpec, entry: ExtensionEntry, ctx: CallContext, result: Any) -> list[Any]:
        if not spec.stream:
            return [self._check(spec, entry, ctx, result)]
        return [self._check(spec, entry, ctx, item) for item in _stream_of(result, entry, ctx)]

    async def _stream_in_thread(
        self, spec: OperationSpec, entry: ExtensionEntry, ctx: CallContext, method: Any, args: Any
    ) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def produce() -> None:
            try:
                iterator: Iterator[Any] = iter(_stream_of(method(args, ctx), entry, ctx))
                for item in iterator:
                    if ctx.cancelled.is_set():
                        close = getattr(iterator, "close", None)
                        if close is not None:
                            close()
                        return
                    loop.call_soon_threadsafe(queue.put_nowait, (item, None))
            except BaseException as exc:  # handed to the loop, re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, (_DONE, exc))
                return
            loop.call_soon_threadsafe(queue.put_nowait, (_DONE, None))

        future = loop.run_in_executor(self.executor, produce)
        try:
            while True:
                item, exc = await queue.get()
                if item is _DONE:
                    if exc is not None:
                        raise exc
                    return
                yield self._check(spec, entry, ctx, item)
        finally:
            if not future.done():
                ctx.cancelled.set()  # the consumer stopped early: tell the producing thread

    def _check(self, spec: OperationSpec, entry: ExtensionEntry, ctx: CallContext, item: Any) -> Any:
        try:
            result = spec.result_adapter.validate_python(item)  # type: ignore[attr-defined]
            if self.check_json and not spec.json_closed:  # type: ignore[attr-defined]
                spec.result_adapter.dump_json(result)  # type: ignore[attr-defined]
            return result
        except PydanticSerializationError as exc:
            raise unencodable(exc, plugin=entry.plugin, call=ctx.call) from None
        except ValidationError as exc:
            raise PluginMalformedResponse(
                f"the plugin returned {type(item).__name__} where {spec.name} gives "
                f"{getattr(spec.result, '__name__', str(spec.result))}: {exc.errors()[0]['msg']}",
                plugin=entry.plugin,
                call=ctx.call,
                details={"errors": _errors(exc)},
            ) from None
