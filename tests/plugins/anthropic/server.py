"""A local HTTP server that answers like Anthropic's Messages API, for the provider's tests.

It speaks HTTP/1.1 over a real socket on 127.0.0.1 (a random port), records each request, and
answers with scripted replies whose bytes it writes in several TCP writes, as a real stream arrives.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AnthropicServer", "Received", "Reply", "error_reply", "message_end", "message_json", "message_start",
    "split", "sse", "sse_reply", "text_block", "text_stream", "thinking_block", "tool_block",
]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error", 529: "Overloaded"}


@dataclass
class Reply:
    """What the server answers: a status, headers, and the body as the pieces it writes one by one."""

    status: int = 200
    parts: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    #: When set, the server writes ``parts[:hold_after]``, then waits for ``release`` before the rest.
    hold_after: int | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Received:
    """One request the server read."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def split(data: bytes, size: int) -> list[bytes]:
    """``data`` cut every ``size`` bytes, so events and even UTF-8 characters straddle writes."""
    return [data[i:i + size] for i in range(0, len(data), size)]


def sse_reply(events: list[bytes], size: int = 23) -> Reply:
    return Reply(parts=split(b"".join(events), size), headers={"content-type": "text/event-stream"})


def message_start(input_tokens: int = 12) -> bytes:
    return sse("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": input_tokens, "output_tokens": 1}}})


def text_block(index: int, *texts: str) -> list[bytes]:
    events = [sse("content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}})]
    events += [sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": {"type": "text_delta", "text": t}}) for t in texts]
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def thinking_block(index: int, *thoughts: str, signature: str = "EqQBCgIYAhIM1gbcDa9G") -> list[bytes]:
    """An extended-thinking block: ``thinking_delta`` events, then the ``signature_delta`` that closes it."""
    events = [sse("content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "thinking", "thinking": ""}})]
    events += [sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": {"type": "thinking_delta", "thinking": t}}) for t in thoughts]
    events.append(sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "signature_delta", "signature": signature}}))
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def tool_block(index: int, tool_id: str, name: str, *fragments: str) -> list[bytes]:
    events = [sse("content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "tool_use", "id": tool_id, "name": name,
                                                            "input": {}}})]
    events += [sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": {"type": "input_json_delta", "partial_json": f}})
               for f in fragments]
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def message_end(stop_reason: str = "end_turn", output_tokens: int = 7) -> list[bytes]:
    return [
        sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                              "usage": {"output_tokens": output_tokens}}),
        sse("message_stop", {"type": "message_stop"}),
    ]


def text_stream(*texts: str) -> Reply:
    ping = sse("ping", {"type": "ping"})
    return sse_reply([message_start(), ping, *text_block(0, *texts), *message_end()])


def message_json(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> Reply:
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 9}}
    return Reply(parts=[json.dumps(body).encode()], headers={"content-type": "application/json"})


def error_reply(status: int, kind: str, message: str, **headers: str) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return Reply(status, [json.dumps(body).encode()], {"content-type": "application/json", **headers})


class AnthropicServer:
    """Answers each request with the next of ``replies`` and records it in ``received``."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if line:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(method, path, headers, json.loads(raw) if raw else None))
            reply = self.replies.pop(0) if self.replies else error_reply(500, "api_error", "no reply scripted")
            head_out = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}", "connection: close"]
            head_out += [f"{k}: {v}" for k, v in reply.headers.items()]
            writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode())
            for i, part in enumerate(reply.parts):
                if i == reply.hold_after:
                    await reply.release.wait()
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.002)
        finally:
            writer.close()
            await writer.wait_closed()
