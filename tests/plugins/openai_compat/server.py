"""A small OpenAI-compatible HTTP server for the tests: real sockets, OpenAI's wire format.

What it answers depends on the requested model name; every request's headers and JSON body are kept
in ``requests`` so tests can assert what the provider sent.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.local_server import LocalServer

API_KEY = "sk-test-secret-0123456789"


def sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event)}\n\n"


def delta_event(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


USAGE_EVENT = {"id": "c1", "object": "chat.completion.chunk", "choices": [],
               "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}

ERRORS = {
    "error-400": (400, {}), "error-404": (404, {}), "error-422": (422, {}), "error-401": (401, {}),
    "error-403": (403, {}), "error-429": (429, {"Retry-After": "7"}), "error-500": (500, {}),
    "error-503": (503, {}),
}


def _text_stream() -> str:
    events = [sse(delta_event({"role": "assistant", "content": ""}))]
    events += [sse(delta_event({"content": piece})) for piece in ["Hel", "lo, ", "wor", "ld"]]
    events.append(sse(delta_event({}, "stop")))
    events.append(sse(USAGE_EVENT))
    return "".join(events) + ": keep-alive comment\n\ndata: [DONE]\n\n"


def _tool_stream() -> str:
    fragments = [
        {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                         "function": {"name": "weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]},
        {"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                         "function": {"name": "clock", "arguments": '{"tz":'}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": ' "UTC"}'}}]},
    ]
    events = [sse(delta_event({"role": "assistant", "content": "Checking."}))]
    events += [sse(delta_event(f)) for f in fragments]
    events.append(sse(delta_event({}, "tool_calls")))
    return "".join(events) + "data: [DONE]\n\n"


def _reasoning_stream(key: str) -> str:
    """DeepSeek-style thinking: ``reasoning_content`` deltas (``reasoning`` on some servers), then content."""
    events = [sse(delta_event({"role": "assistant", "content": None, key: ""}))]
    events += [sse(delta_event({"content": None, key: piece})) for piece in ["Think", "ing..."]]
    events += [sse(delta_event({"content": piece, key: None})) for piece in ["Four", "."]]
    events.append(sse(delta_event({}, "stop")))
    events.append(sse(USAGE_EVENT))
    return "".join(events) + "data: [DONE]\n\n"


def _completion_stream() -> str:
    """The legacy completions stream: ``choices[].text`` pieces."""
    def event(text: str, finish: str | None = None) -> dict[str, Any]:
        return {"id": "cmpl-1", "object": "text_completion", "model": "m",
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}
    events = [sse(event(piece)) for piece in ["Once", " upon", " a time"]]
    events.append(sse(event("", "length")))
    events.append(sse({"id": "cmpl-1", "object": "text_completion", "choices": [],
                       "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}}))
    return "".join(events) + "data: [DONE]\n\n"


#: The Content-Type ``/audio/speech`` answers for each format.
AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
               "wav": "audio/wav", "pcm": "audio/pcm"}


def speech_bytes(body: dict[str, Any]) -> bytes:
    """What the server "speaks": bytes derived from the request, long enough to arrive in pieces."""
    return f"AUDIO[{body['voice']}|{body['response_format']}]:{body['input']};".encode() * 40


def _multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The fields and files of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        if part.get_filename():
            files[name] = {"filename": part.get_filename(), "content_type": part.get_content_type(), "data": data}
        else:
            fields[name] = data.decode()
    return fields, files


async def _odd_pieces(text: str | bytes, size: int) -> AsyncIterator[bytes]:
    data = text.encode() if isinstance(text, str) else text
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0.001)  # so pieces reach the client as separate reads


class OpenAIServer(LocalServer):
    """OpenAI's endpoints, answered by model name; ``url`` is the ``/v1`` base URL."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__(Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/audio/speech", self.speech, methods=["POST"]),
            Route("/v1/audio/transcriptions", self.transcriptions, methods=["POST"]),
            Route("/v1/moderations", self.moderations, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            Route("/v1/rerank", self.rerank, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
        ]))
        self.url = self.url_for("/v1")

    async def _record(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        body: dict[str, Any]
        files: dict[str, dict[str, Any]] = {}
        if content_type.startswith("multipart/form-data"):
            fields, files = _multipart(content_type, raw)
            body = dict(fields)
        else:
            body = json.loads(raw) if request.method == "POST" else {}
        self.requests.append({"path": request.url.path, "headers": dict(request.headers), "body": body,
                              "files": files})
        return body

    def _refused(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            given = request.headers.get("authorization", "")
            # Like OpenAI, echo (part of) the key that was refused.
            return JSONResponse({"error": {"message": f"Incorrect API key provided: {given}",
                                           "type": "invalid_request_error", "code": "invalid_api_key"}}, 401)
        return None

    def _error(self, model: str) -> Response | None:
        if model in ERRORS:
            status, headers = ERRORS[model]
            message = f"{model} as asked (key {API_KEY})"
            return JSONResponse({"error": {"message": message, "type": "test"}}, status, headers=headers)
        return None

    async def chat(self, request: Request) -> Response:
        body = await self._record(request)
        model = body["model"]
        refused = self._refused(request) or self._error(model)
        if refused is not None:
            return refused
        if body.get("stream"):
            if model in ("reasoning", "reasoning-alt"):
                text = _reasoning_stream("reasoning_content" if model == "reasoning" else "reasoning")
                return StreamingResponse(_odd_pieces(text, 17), media_type="text/event-stream")
            if model == "tools":
                return StreamingResponse(_odd_pieces(_tool_stream(), 37), media_type="text/event-stream")
            if model == "no-usage":
                text = _text_stream().replace(sse(USAGE_EVENT), "")
                return StreamingResponse(_odd_pieces(text, 5), media_type="text/event-stream")
            return StreamingResponse(_odd_pieces(_text_stream(), 13), media_type="text/event-stream")
        if model == "tools":
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_x", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}]}
            finish = "tool_calls"
        elif model == "reasoning":
            message = {"role": "assistant", "content": "Four.", "reasoning_content": "2 + 2 is 4."}
            finish = "stop"
        else:
            message = {"role": "assistant", "content": '{"answer": 42}'}
            finish = "stop"
        return JSONResponse({"id": "c2", "object": "chat.completion", "model": model, "system_fingerprint": "fp_1",
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                             "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})

    async def embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        refused = self._refused(request) or self._error(body["model"])
        if refused is not None:
            return refused
        data = [{"object": "embedding", "index": i, "embedding": [float(len(text)), float(i)]}
                for i, text in enumerate(body["input"])]
        data.reverse()  # out of order on purpose: the index decides
        tokens = len(body["input"]) * 2
        return JSONResponse({"object": "list", "data": data, "model": body["model"],
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def rerank(self, request: Request) -> Response:
        body = await self._record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        scores = [round(0.9 - 0.2 * i, 2) for i in range(len(body["documents"]))]
        results = [{"index": i, "relevance_score": s} for i, s in enumerate(scores)]
        best = results[: body.get("top_n") or len(results)]
        # Lowest score first on purpose: the provider must sort.
        return JSONResponse({"model": body["model"], "results": best[::-1]})

    async def models(self, request: Request) -> Response:
        await self._record(request)
        return self._refused(request) or JSONResponse({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def completions(self, request: Request) -> Response:
        body = await self._record(request)
        refused = self._refused(request) or self._error(body["model"])
        if refused is not None:
            return refused
        if body.get("stream"):
            return StreamingResponse(_odd_pieces(_completion_stream(), 11), media_type="text/event-stream")
        return JSONResponse({"id": "cmpl-2", "object": "text_completion", "model": body["model"],
                             "choices": [{"index": 0, "text": " upon a time", "logprobs": None,
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}})

    async def speech(self, request: Request) -> Response:
        body = await self._record(request)
        refused = self._refused(request) or self._error(body["model"])
        if refused is not None:
            return refused
        media_type = AUDIO_TYPES.get(body["response_format"], "application/octet-stream")
        if body["model"] == "untyped-speech":
            media_type = "application/octet-stream"
        return StreamingResponse(_odd_pieces(speech_bytes(body), 256), media_type=media_type)

    async def transcriptions(self, request: Request) -> Response:
        fields = await self._record(request)
        refused = self._refused(request) or self._error(fields.get("model", ""))
        if refused is not None:
            return refused
        file = self.requests[-1]["files"]["file"]
        heard = f"heard {len(file['data'])} bytes of {file['filename']} ({file['content_type']})"
        if fields.get("language"):
            heard += f" in {fields['language']}"
        return JSONResponse({"text": heard})

    async def moderations(self, request: Request) -> Response:
        body = await self._record(request)
        refused = self._refused(request) or self._error(body["model"])
        if refused is not None:
            return refused
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        results = [{"flagged": "kill" in text, "categories": {"violence": "kill" in text},
                    "category_scores": {"violence": 0.9 if "kill" in text else 0.01}} for text in inputs]
        return JSONResponse({"id": "modr-1", "model": body["model"], "results": results})
