"""Reading a streamed chat completion: SSE events, and tool calls that arrive in fragments."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from treadle_sdk.model_errors import InvokeServerUnavailableError
from treadle_sdk.model_runtime import ToolCall, ToolCallFunction

__all__ = ["ToolCallAssembler", "sse_events"]


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of the ``data:`` events in ``lines``, up to ``data: [DONE]``.

    An event's ``data`` may span several lines; events end at a blank line (or the stream's end).
    """
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
            continue
        if line.strip() or not data:
            continue  # comments (": keep-alive"), event:, id: and retry: fields
        payload = "\n".join(data)
        data = []
        if payload.strip() == "[DONE]":
            # Read to the end of the body (nothing more comes after [DONE]), so the connection goes
            # back to the pool instead of being closed half-read.
            async for _ in lines:
                pass
            return
        yield _decode(payload)
    if data and "\n".join(data).strip() != "[DONE]":
        yield _decode("\n".join(data))


def _decode(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvokeServerUnavailableError(
            f"the server streamed an event that is not JSON: {payload[:200]!r}"
        ) from None
    if not isinstance(event, dict):
        raise InvokeServerUnavailableError(f"the server streamed an event that is not an object: {payload[:200]!r}")
    if isinstance(event.get("error"), dict | str):
        error = event["error"]
        message = error.get("message", "") if isinstance(error, dict) else error
        raise InvokeServerUnavailableError(f"the server reported an error mid-stream: {message}")
    return event


@dataclass
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Joins streamed tool-call fragments by ``index`` into whole calls.

    The first fragment of a call carries its id and name; later ones carry pieces of the arguments.
    """

    def __init__(self) -> None:
        self._calls: dict[int, _Partial] = {}

    def add(self, fragments: list[dict[str, Any]]) -> None:
        """Fold one delta's ``tool_calls`` into the calls being assembled."""
        for position, fragment in enumerate(fragments):
            index = fragment.get("index", position)
            partial = self._calls.setdefault(int(index), _Partial())
            if fragment.get("id"):
                partial.id = str(fragment["id"])
            function = fragment.get("function") or {}
            if function.get("name") and not partial.name:
                partial.name = str(function["name"])
            if function.get("arguments"):
                partial.arguments.append(str(function["arguments"]))

    def calls(self) -> list[ToolCall]:
        """The assembled calls in index order (ids made up for servers that send none)."""
        return [
            ToolCall(
                id=partial.id or f"call_{index}",
                function=ToolCallFunction(name=partial.name, arguments="".join(partial.arguments)),
            )
            for index, partial in sorted(self._calls.items())
        ]
