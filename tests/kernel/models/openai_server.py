"""A local server speaking OpenAI's wire format whose answers depend on the API key sent: real
sockets, so the openai_compat provider is tested as users run it.

``keys`` maps each key to how the server treats it: ``ok`` (answers ``served by LABEL``, the label
being ``labels[key]``), ``rate-limited`` (429), ``refused`` (401 that echoes the key in its message
and error code, as some servers do), ``quota`` (429 ``insufficient_quota``). Unknown keys are refused.
``served`` records the key of every chat request in order.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.local_server import LocalServer


class KeyedOpenAIServer(LocalServer):
    """OpenAI's models and chat endpoints, answering by API key; ``url`` is the ``/v1`` base URL."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.served: list[str] = []
        super().__init__(Starlette(routes=[
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
        ]))
        self.url = self.url_for("/v1")

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
