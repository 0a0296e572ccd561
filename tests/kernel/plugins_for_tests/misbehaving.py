"""Tool providers that misbehave on request, one for each way plugin code can run.

Every provider serves these tool names (the async ones also ``hang``):

- ``echo``: one text message, the ``text`` parameter;
- ``fail``: raises ``ValueError``;
- ``hang``: never answers (a worker thread blocked on :data:`RELEASE`, or an await that never ends);
  the thread touches the file named by its ``marker`` parameter, if given, as it starts waiting;
- ``wrong_type``: an int where a tool message is due;
- ``not_iterable``: an int for the whole result of a streaming operation;
- ``not_json``: a JSON message holding an object JSON has no encoding for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from treadle_sdk import CallContext, ToolProvider, hookimpl
from treadle_sdk.tool_runtime import InvokeToolArgs, JsonMessage, TextMessage

from . import declared_tools, provider_schema

#: Frees worker threads blocked in ``hang``. Tests of the inline host set it when they end: the
#: interpreter joins executor threads at exit, so a thread blocked for good would stall it.
RELEASE = threading.Event()
#: The longest a ``hang`` lasts in any case.
HANG_SECONDS = 30.0


class Unserialisable:
    """An object JSON has no encoding for."""


def _result(args: InvokeToolArgs) -> Any:
    if args.tool == "echo":
        return [TextMessage(text=str(args.parameters.get("text", "")))]
    if args.tool == "fail":
        raise ValueError("the plugin failed on purpose")
    if args.tool == "wrong_type":
        return [42]
    if args.tool == "not_iterable":
        return 42
    if args.tool == "not_json":
        return [JsonMessage(json_object={"value": Unserialisable()})]
    raise AssertionError(f"no behaviour {args.tool!r}")


SYNC_TOOLS = ("echo", "fail", "wrong_type", "not_iterable", "not_json")


class InThreadProvider(ToolProvider):
    """Plain code, run in a worker thread (``blocking = True``, the default)."""

    schema = provider_schema("misbehaving_thread")

    def __init__(self) -> None:
        self.tools = declared_tools(*SYNC_TOOLS, "hang")

    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> Any:  # type: ignore[override]
        if args.tool == "hang":
            if "marker" in args.parameters:
                Path(args.parameters["marker"]).touch()
            RELEASE.wait(HANG_SECONDS)
            return []
        return _result(args)


class OnLoopProvider(ToolProvider):
    """Plain quick code, run on the host's event loop (``blocking = False``)."""

    blocking = False
    schema = provider_schema("misbehaving_quick")

    def __init__(self) -> None:
        self.tools = declared_tools(*SYNC_TOOLS)

    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> Any:  # type: ignore[override]
        return _result(args)


class CoroutineProvider(ToolProvider):
    """A coroutine returning all its results at once."""

    schema = provider_schema("misbehaving_async")

    def __init__(self) -> None:
        self.tools = declared_tools(*SYNC_TOOLS, "hang")

    async def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> Any:  # type: ignore[override]
        if args.tool == "hang":
            await asyncio.Event().wait()
        return _result(args)


class AsyncGeneratorProvider(ToolProvider):
    """An async generator, the natural shape of a streaming operation."""

    schema = provider_schema("misbehaving_agen")

    def __init__(self) -> None:
        self.tools = declared_tools("echo", "fail", "wrong_type", "not_json", "hang")

    async def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> AsyncIterator[Any]:  # type: ignore[override]
        if args.tool == "hang":
            await asyncio.Event().wait()
        for item in _result(args):
            yield item


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    register(InThreadProvider())
    register(OnLoopProvider())
    register(CoroutineProvider())
    register(AsyncGeneratorProvider())
