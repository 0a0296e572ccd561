"""A local server speaking OpenAI's wire format whose answers depend on the API key sent: real
sockets, so the openai_compat provider is tested as users run it.

``keys`` maps each key to how the server treats it: ``ok`` (answers ``served by LABEL``, the label
being ``labels[key]``), ``rate-limited`` (429), ``refused`` (401 that echoes the key in its message
and error code, as some servers do), ``quota`` (429 ``insufficient_quota``). Unknown keys are refused.
``served`` records the key of every chat request in order.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class KeyedOpenAIServer:
    """Runs on 127.0.0.1 at a random port in a background thread."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.served: list[str] = []
        app = Starlette(routes=[
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
        ])
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> None:
        self._thread.start()
        while not self._server.started:
            threading.Event().wait(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self._sock.close()

    def _refusal(self, request: Request) -> tuple[str, Response | None]:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        policy = self.keys.get(key, "refused")
        if policy == "refused":
            body = {"error": {"message": f"Incorrect API key provided: {key}", "code": key}}
            return key, JSONResponse(body, 401)
        if policy == "rate-limited":
            body = {"error": {"message": f"Rate limit reached for {key}", "type": "requests"}}
            return key, JSONResponse(body, 429)
        if policy == "quota":
            body = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
            return key, JSONResponse(body, 429)
        return key, None

    async def models(self, request: Request) -> Response:
        _, refusal = self._refusal(request)
        return refusal or JSONResponse({"object": "list", "data": [{"id": "chat", "object": "model"}]})

    async def chat(self, request: Request) -> Response:
        body: dict[str, Any] = json.loads(await request.body())
        key, refusal = self._refusal(request)
        self.served.append(key)
        if refusal is not None:
            return refusal
        text = f"served by {self.labels.get(key, '?')}"
        usage = {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
        if not body.get("stream"):
            return JSONResponse({"id": "c", "object": "chat.completion", "model": body["model"], "usage": usage,
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}]})
        events = [
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": usage},
        ]
        stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return StreamingResponse(iter([stream]), media_type="text/event-stream")
