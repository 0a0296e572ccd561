"""An embedding model served over HTTP in OpenAI's wire format (``POST /v1/embeddings``), for the
indexing tests: real sockets, the openai_compat plugin in front of it.

Each text gets the fake provider's vector for it (a unit vector from a hash of the text: the same
text, the same vector), so a chunk's own text finds it by vector search. The server keeps every
request's texts (``requests``) and the texts it *answered* (``answered``): a request it holds
(:attr:`hold`) and then refuses is received but never answered. Model ``broken`` answers 500.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support.local_server import LocalServer
from treadle_fake.embedding import embed

__all__ = ["EmbeddingServer", "credentials"]


class EmbeddingServer(LocalServer):
    """``url`` is the ``/v1`` base URL the openai_compat credentials name."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.answered: list[str] = []
        #: The 1-based number of the embedding request to hold until :attr:`release` is set; it is
        #: then refused (503) when ``refuse_held``, so its texts are never answered, else answered.
        self.hold: int | None = None
        self.refuse_held = True
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        super().__init__(Starlette(routes=[
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
        ]))  # fmt: skip
        self.url = self.url_for("/v1")

    async def embeddings(self, request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        texts = [str(text) for text in body["input"]]
        with self._lock:
            self.requests.append(texts)
            number = len(self.requests)
        if body.get("model") == "broken":
            return JSONResponse({"error": {"message": "the model is broken", "type": "server_error"}}, status_code=500)
        if number == self.hold:
            self.holding.set()
            await asyncio.to_thread(self.release.wait)
            if self.refuse_held:
                return JSONResponse({"error": {"message": "held, then refused", "type": "server_error"}},
                                    status_code=503)
        data = [{"object": "embedding", "index": i, "embedding": embed(text)} for i, text in enumerate(texts)]
        with self._lock:
            self.answered.extend(texts)
        return JSONResponse({"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}})

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "embedder", "object": "model"}]})

    def stop(self) -> None:
        self.release.set()  # a held request lets uvicorn stop
        super().stop()


def credentials(server: EmbeddingServer) -> dict[str, str]:
    """The openai_compat provider credentials that send embeddings to ``server``."""
    return {"api_key": "sk-embedding-test", "endpoint_url": server.url}
