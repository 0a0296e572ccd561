"""A scripted OpenAI-compatible chat server for the llm-family node tests: real sockets, OpenAI's wire
format (``POST /v1/chat/completions``, SSE when ``stream`` is set).

Tests queue the replies a model gives (:meth:`ChatServer.reply`); each request takes the next one.
Every request's JSON body is kept in ``requests``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.local_server import LocalServer

API_KEY = "sk-llm-nodes-test-key"


@dataclass
class Reply:
    """One answer: text in ``pieces`` (streamed one per event), tool calls, or an HTTP error."""

    pieces: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event)}\n\n"


def _delta(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


_USAGE = {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}


async def _events(reply: Reply) -> AsyncIterator[bytes]:
    yield _sse(_delta({"role": "assistant", "content": ""})).encode()
    for piece in reply.pieces:
        yield _sse(_delta({"content": piece})).encode()
        await asyncio.sleep(0.002)  # separate reads, so the client sees separate pieces
    for index, call in enumerate(reply.tool_calls):
        fragment = {"index": index, "id": f"call_{index}", "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}
        yield _sse(_delta({"tool_calls": [fragment]})).encode()
    yield _sse(_delta({}, "tool_calls" if reply.tool_calls else "stop")).encode()
    yield _sse({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": _USAGE}).encode()
    yield b"data: [DONE]\n\n"


class ChatServer(LocalServer):
    """Chat completions answered with the queued replies; ``url`` is the ``/v1`` base URL."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._replies: dict[str, list[Reply]] = {}
        super().__init__(Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])]))
        self.url = self.url_for("/v1")

    def reply(self, model: str, *replies: Reply | str) -> None:
        """Queue answers for ``model`` (a string is a text answer streamed a word at a time)."""
        queue = self._replies.setdefault(model, [])
        for reply in replies:
            if isinstance(reply, str):
                words = reply.split(" ")
                reply = Reply(pieces=[w + " " for w in words[:-1]] + [words[-1]])
            queue.append(reply)

    def reset(self) -> None:
        self.requests.clear()
        self._replies.clear()

    async def chat(self, request: Request) -> Response:
        body: dict[str, Any] = json.loads(await request.body())
        self.requests.append(body)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": {"message": "Incorrect API key", "code": "invalid_api_key"}}, 401)
        queue = self._replies.get(body["model"]) or []
        if not queue:
            return JSONResponse({"error": {"message": f"no reply queued for {body['model']}"}}, 500)
        reply = queue.pop(0)
        if reply.status != 200:
            error = {"error": {"message": reply.error, "type": "test"}}
            return JSONResponse(error, reply.status, headers=reply.headers)
        if body.get("stream"):
            return StreamingResponse(_events(reply), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}
                for i, call in enumerate(reply.tool_calls)
            ]
        finish = "tool_calls" if reply.tool_calls else "stop"
        return JSONResponse({"id": "c2", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                             "usage": _USAGE})
