"""A moderation API extension speaking Dify's API-extension protocol, on a real local HTTP server:
``ping`` answers ``pong``; the moderation points flag text holding the word ``blocked``, input by
overriding the query (or answering directly when the query says ``refuse``), output by replacing it."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from support.local_server import LocalServer

KEY = "ext-key-12345"


class ExtensionServer(LocalServer):
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        super().__init__(Starlette(routes=[Route("/moderate", self._moderate, methods=["POST"])]))

    async def _moderate(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error": "bad key"}, status_code=401)
        body = await request.json()
        self.calls.append(body)
        point, params = body["point"], body["params"]
        if point == "ping":
            return JSONResponse({"result": "pong"})
        if point == "app.moderation.input":
            query = str(params.get("query", ""))
            if "refuse" in query:
                return JSONResponse({"flagged": True, "action": "direct_output", "preset_response": "Refused."})
            if "blocked" in query:
                return JSONResponse({"flagged": True, "action": "overridden", "inputs": params.get("inputs", {}),
                                     "query": query.replace("blocked", "[censored]")})
            return JSONResponse({"flagged": False, "action": "direct_output", "preset_response": ""})
        if point == "app.moderation.output":
            text = str(params.get("text", ""))
            if "blocked" in text:
                return JSONResponse({"flagged": True, "action": "overridden", "text": text.replace("blocked", "***")})
            return JSONResponse({"flagged": False, "action": "direct_output", "preset_response": ""})
        return JSONResponse({"error": f"unknown point {point}"}, status_code=400)
