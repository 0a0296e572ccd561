"""Plugins that call back into the kernel through ``ctx.kernel`` (PLUG-KV, PLUG-REVERSE-*).

:data:`KV_A` and :data:`KV_B` are two plugins (load them as ``...kernel_calls:KV_A``) with the same
tools, so a test can see that KV data is kept per plugin. Each registers ``<prefix>_thread``
(blocking code using the plain ``kv_*`` methods) and ``<prefix>_async`` (async code awaiting
``akv_*``); both providers of one plugin share its storage. Tools: ``set`` (``key``, ``value``),
``set_size`` (``key``, ``size``: that many bytes), ``get`` (``key``; a JSON message
``{"value": text or null}``), ``delete`` (``key``).

:data:`CALLER` registers ``caller_thread`` and ``caller_async``, whose tools make nested calls:
``maths`` (``expression``: invokes the ``maths`` provider's ``eval_expression``), ``app`` (invokes an
app), ``recurse`` (invokes this same tool again, without end), ``stash`` (keeps its kernel client)
and ``use_stash`` (reads KV through the client ``stash`` kept, after that call ended).
``caller_async`` also has ``relay_endless``, which relays the messages of the ``streamer``
provider's ``endless`` tool (parameter ``marker`` passed on) for as long as they come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from treadle_sdk import CallContext, KernelClient, ToolProvider, hookimpl
from treadle_sdk.tool_runtime import InvokeToolArgs, JsonMessage, TextMessage

from . import declared_tools, provider_schema

KV_TOOLS = ("set", "set_size", "get", "delete")
CALLER_TOOLS = ("maths", "app", "recurse", "stash", "use_stash")
ASYNC_CALLER_TOOLS = (*CALLER_TOOLS, "relay_endless")


def _value(args: InvokeToolArgs) -> bytes:
    if args.tool == "set_size":
        return b"x" * int(args.parameters["size"])
    return str(args.parameters["value"]).encode()


def _got(value: bytes | None) -> JsonMessage:
    return JsonMessage(json_object={"value": None if value is None else value.decode()})


class ThreadKV(ToolProvider):
    def __init__(self, name: str) -> None:
        self.schema = provider_schema(name)
        self.tools = declared_tools(*KV_TOOLS)

    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> Iterator[Any]:  # type: ignore[override]
        key = args.parameters["key"]
        if args.tool in ("set", "set_size"):
            ctx.kernel.kv_set(key, _value(args))
            yield TextMessage(text="ok")
        elif args.tool == "get":
            yield _got(ctx.kernel.kv_get(key))
        elif args.tool == "delete":
            ctx.kernel.kv_delete(key)
            yield TextMessage(text="ok")


class AsyncKV(ToolProvider):
    def __init__(self, name: str) -> None:
        self.schema = provider_schema(name)
        self.tools = declared_tools(*KV_TOOLS)

    async def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> AsyncIterator[Any]:  # type: ignore[override]
        key = args.parameters["key"]
        if args.tool in ("set", "set_size"):
            await ctx.kernel.akv_set(key, _value(args))
            yield TextMessage(text="ok")
        elif args.tool == "get":
            yield _got(await ctx.kernel.akv_get(key))
        elif args.tool == "delete":
            await ctx.kernel.akv_delete(key)
            yield TextMessage(text="ok")


class KVPlugin:
    """A plugin registering the thread and async KV providers ``<prefix>_thread``, ``<prefix>_async``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @hookimpl
    def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
        register(ThreadKV(f"{self.prefix}_thread"))
        register(AsyncKV(f"{self.prefix}_async"))


KV_A = KVPlugin("kv_a")
KV_B = KVPlugin("kv_b")

#: The kernel client a ``stash`` call kept, by provider name (one per host process).
STASHED: dict[str, KernelClient] = {}


class ThreadCaller(ToolProvider):
    schema = provider_schema("caller_thread")

    def __init__(self) -> None:
        self.tools = declared_tools(*CALLER_TOOLS)

    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> list[Any]:  # type: ignore[override]
        if args.tool == "maths":
            return ctx.kernel.invoke_tool("maths", "eval_expression", {"expression": args.parameters["expression"]})
        if args.tool == "app":
            return ctx.kernel.invoke_app("some-app", {"question": "?"})
        if args.tool == "recurse":
            return ctx.kernel.invoke_tool(self.name, "recurse", {})
        if args.tool == "stash":
            STASHED[self.name] = ctx.kernel
            return [TextMessage(text="stashed")]
        if args.tool == "use_stash":
            return [_got(STASHED[self.name].kv_get("key"))]
        raise AssertionError(f"no tool {args.tool!r}")


class AsyncCaller(ToolProvider):
    schema = provider_schema("caller_async")

    def __init__(self) -> None:
        self.tools = declared_tools(*ASYNC_CALLER_TOOLS)

    async def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> list[Any]:  # type: ignore[override]
        if args.tool == "relay_endless":
            parameters = {"marker": args.parameters["marker"]}
            request = {"provider": "streamer", "tool": "endless", "parameters": parameters}
            return [message async for message in ctx.kernel.astream("invoke_tool", request)]
        if args.tool == "maths":
            parameters = {"expression": args.parameters["expression"]}
            return await ctx.kernel.ainvoke_tool("maths", "eval_expression", parameters)
        if args.tool == "app":
            return await ctx.kernel.ainvoke_app("some-app", {"question": "?"})
        if args.tool == "recurse":
            return await ctx.kernel.ainvoke_tool(self.name, "recurse", {})
        if args.tool == "stash":
            STASHED[self.name] = ctx.kernel
            return [TextMessage(text="stashed")]
        if args.tool == "use_stash":
            return [_got(await STASHED[self.name].akv_get("key"))]
        raise AssertionError(f"no tool {args.tool!r}")


class CallerPlugin:
    """A plugin registering ``caller_thread`` and ``caller_async``."""

    @hookimpl
    def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
        register(ThreadCaller())
        register(AsyncCaller())


CALLER = CallerPlugin()
