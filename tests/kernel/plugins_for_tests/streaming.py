"""Streaming tool providers: ``streamer`` (an async generator) and ``streamer_thread`` (a plain
generator run in a worker thread).

Tools of both:

- ``count``: text messages ``"0"``, ``"1"`` ... up to the ``n`` parameter;
- ``endless``: text messages until the call is stopped; when the generator ends it writes why to the
  file named by the ``marker`` parameter: ``stopped after N`` or ``ran out``.

``streamer`` also has ``start_then_hang``: one message ``started``, then an await that never ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from treadle_sdk import CallContext, ToolProvider, hookimpl
from treadle_sdk.tool_runtime import InvokeToolArgs, TextMessage

from . import declared_tools, provider_schema

#: ``endless`` gives up after this many messages, so a stop that never comes cannot run forever.
ENDLESS_LIMIT = 100_000
#: Pause between ``endless`` messages: the stream should not outrun its reader by much.
ENDLESS_PAUSE = 0.001


def _mark(args: InvokeToolArgs, sent: int, finished: bool) -> None:
    Path(args.parameters["marker"]).write_text("ran out" if finished else f"stopped after {sent}")


class AsyncStreamer(ToolProvider):
    schema = provider_schema("streamer")

    def __init__(self) -> None:
        self.tools = declared_tools("count", "endless", "start_then_hang")

    async def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> AsyncIterator[Any]:  # type: ignore[override]
        if args.tool == "count":
            for i in range(int(args.parameters["n"])):
                yield TextMessage(text=str(i))
        elif args.tool == "endless":
            sent, finished = 0, False
            try:
                while sent < ENDLESS_LIMIT:
                    yield TextMessage(text=str(sent))
                    sent += 1
                    await asyncio.sleep(ENDLESS_PAUSE)
                finished = True
            finally:
                _mark(args, sent, finished)
        elif args.tool == "start_then_hang":
            yield TextMessage(text="started")
            await asyncio.Event().wait()


class ThreadStreamer(ToolProvider):
    schema = provider_schema("streamer_thread")

    def __init__(self) -> None:
        self.tools = declared_tools("count", "endless")

    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> Iterator[Any]:  # type: ignore[override]
        if args.tool == "count":
            for i in range(int(args.parameters["n"])):
                yield TextMessage(text=str(i))
        elif args.tool == "endless":
            sent, finished = 0, False
            try:
                while sent < ENDLESS_LIMIT:
                    yield TextMessage(text=str(sent))
                    sent += 1
                    time.sleep(ENDLESS_PAUSE)
                finished = True
            finally:
                _mark(args, sent, finished)


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    register(AsyncStreamer())
    register(ThreadStreamer())
