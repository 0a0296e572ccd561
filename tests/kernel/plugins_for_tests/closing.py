"""A plugin that holds something to release: its provider's ``aclose`` appends a line to the file
named by the environment variable ``TREADLE_TEST_CLOSED`` (the host process inherits it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from treadle_sdk import CallContext, ToolProvider, hookimpl
from treadle_sdk.tool_runtime import InvokeToolArgs, TextMessage

from . import declared_tools, provider_schema


class Closing(ToolProvider):
    schema = provider_schema("closing")
    tools = declared_tools("noop")

    def invoke_tool(self, args: InvokeToolArgs, ctx: CallContext) -> Any:
        return [TextMessage(text="ok")]

    async def aclose(self) -> None:
        # One short append at shutdown; nothing else runs on this loop by then.
        with Path(os.environ["TREADLE_TEST_CLOSED"]).open("a") as marker:  # noqa: ASYNC230
            marker.write(f"closed in {os.getpid()}\n")


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    register(Closing())
