"""The ``openai_compat`` provider: chat, embeddings and rerank against an OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.model_errors import CredentialsValidateFailedError, InvokeError, InvokeServerUnavailableError
from treadle_sdk.model_runtime import (
    AssistantMessage,
    CountTokensArgs,
    EmbeddingUsage,
    InvokeLLMArgs,
    InvokeRerankArgs,
    InvokeTextEmbeddingArgs,
    LLMDelta,
    LLMResultChunk,
    LLMUsage,
    PromptMessage,
    PromptMessageRole,
    RerankDocument,
    RerankResult,
    TextEmbeddingResult,
    ToolCall,
    ToolCallFunction,
    ValidateModelCredentialsArgs,
)

from .http_errors import error_for_response, error_for_transport
from .schema import PROVIDER_SCHEMA
from .stream import ToolCallAssembler, sse_events
from .wire import chat_body, estimate_tokens, prompt_tokens

__all__ = ["OpenAICompatProvider"]

_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


def _endpoint(credentials: dict[str, Any]) -> str:
    url = str(credentials.get("endpoint_url") or "").strip()
    if not url.startswith(("http://", "https://")):
        raise PluginInvalidArgument(
            "credential 'endpoint_url' must be an http:// or https:// URL such as https://api.openai.com/v1",
            details={"field": "credentials.endpoint_url"},
        )
    return url.rstrip("/")


def _headers(credentials: dict[str, Any]) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if credentials.get("api_key"):
        headers["Authorization"] = f"Bearer {credentials['api_key']}"
    if credentials.get("organization"):
        headers["OpenAI-Organization"] = str(credentials["organization"])
    return headers


def _served_model(model: str, credentials: dict[str, Any]) -> str:
    return str(credentials.get("endpoint_model_name") or model)


def _usage(data: Any, prompt: int, completion: int, started: float) -> LLMUsage:
    """The call's usage: the server's counts when it sent them, else the estimates."""
    if isinstance(data, dict):
        prompt = int(data.get("prompt_tokens") or prompt)
        completion = int(data.get("completion_tokens") or completion)
    return LLMUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        latency=round(time.monotonic() - started, 3),
    )


def _chunk(model: str, message: AssistantMessage, **fields: Any) -> LLMResultChunk:
    return LLMResultChunk(model=model, delta=LLMDelta(index=0, message=message, **fields))


class OpenAICompatProvider(ModelProvider):
    """Models served by any OpenAI-compatible HTTP server, added by the user (``customizable-model``).

    All I/O is async on one ``httpx.AsyncClient`` per provider instance, so calls run on the event
    loop (``blocking = False``) and share the connection pool.
    """

    blocking = False
    schema = PROVIDER_SCHEMA

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        # A client's connections belong to the loop that opened them.
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=_TIMEOUT)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client (a later call opens a new one)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @asynccontextmanager
    async def _post(
        self, path: str, body: dict[str, Any], credentials: dict[str, Any], *, stream: bool = False
    ) -> AsyncIterator[httpx.Response]:
        url = f"{_endpoint(credentials)}{path}"
        where = f"POST {url}"
        api_key = credentials.get("api_key") or None
        request = self._http().build_request("POST", url, json=body, headers=_headers(credentials))
        try:
            response = await self._http().send(request, stream=True)
        except httpx.TransportError as exc:
            raise error_for_transport(exc, where, api_key) from None
        try:
            if response.status_code >= 400:
                raise error_for_response(response, await response.aread(), where, api_key)
            if not stream:
                await response.aread()
            yield response
        except httpx.TransportError as exc:
            raise error_for_transport(exc, where, api_key) from None
        finally:
            await response.aclose()

    async def _post_json(self, path: str, body: dict[str, Any], credentials: dict[str, Any]) -> dict[str, Any]:
        async with self._post(path, body, credentials) as response:
            try:
                data = response.json()
            except ValueError:
                raise InvokeServerUnavailableError(
                    f"POST {path} answered {response.status_code} with a body that is not JSON"
                ) from None
        if not isinstance(data, dict):
            raise InvokeServerUnavailableError(f"POST {path} answered with JSON that is not an object")
        return data

    # -----------------------------------------------------------------------------------------
    # LLM
    # -----------------------------------------------------------------------------------------

    # An async generator, unlike the base's declared Iterable, so that HTTP never blocks the loop.
    async def invoke_llm(  # type: ignore[override]
        self, args: InvokeLLMArgs, ctx: CallContext
    ) -> AsyncIterator[LLMResultChunk]:
        started = time.monotonic()
        body = chat_body(args, _served_model(args.model, args.credentials))
        estimated_prompt = prompt_tokens(args.prompt_messages, args.tools)
        if not args.stream:
            data = await self._post_json("/chat/completions", body, args.credentials)
            yield self._whole_answer(args.model, data, estimated_prompt, started)
            return
        assembler = ToolCallAssembler()
        completion_text: list[str] = []
        finish_reason: str | None = None
        usage: Any = None
        fingerprint: str | None = None
        async with self._post("/chat/completions", body, args.credentials, stream=True) as response:
            async for event in sse_events(response.aiter_lines()):
                fingerprint = event.get("system_fingerprint") or fingerprint
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("tool_calls"):
                        assembler.add(delta["tool_calls"])
                    finish_reason = choice.get("finish_reason") or finish_reason
                    content = delta.get("content")
                    if content:
                        completion_text.append(content)
                        yield LLMResultChunk(
                            model=args.model,
                            system_fingerprint=fingerprint,
                            delta=LLMDelta(index=0, message=AssistantMessage(content=content)),
                        )
        calls = assembler.calls()
        estimated = estimate_tokens("".join(completion_text)) + sum(
            estimate_tokens(call.function.name + call.function.arguments) for call in calls
        )
        final = _chunk(
            args.model,
            AssistantMessage(tool_calls=calls),
            usage=_usage(usage, estimated_prompt, estimated, started),
            finish_reason=finish_reason or ("tool_calls" if calls else "stop"),
        )
        yield final.model_copy(update={"system_fingerprint": fingerprint})

    def _whole_answer(self, model: str, data: dict[str, Any], estimated_prompt: int, started: float) -> LLMResultChunk:
        choices = data.get("choices") or []
        if not choices:
            raise InvokeServerUnavailableError("the server answered the chat completion with no choices")
        choice = choices[0]
        message = choice.get("message") or {}
        content = message.get("content") or ""
        calls = [
            ToolCall(
                id=str(call.get("id") or f"call_{i}"),
                function=ToolCallFunction(
                    name=str(call["function"]["name"]),
                    arguments=_arguments_text(call["function"].get("arguments")),
                ),
            )
            for i, call in enumerate(message.get("tool_calls") or [])
        ]
        estimated = estimate_tokens(content) + sum(estimate_tokens(c.function.arguments) for c in calls)
        return LLMResultChunk(
            model=model,
            system_fingerprint=data.get("system_fingerprint"),
            delta=LLMDelta(
                index=0,
                message=AssistantMessage(content=content, tool_calls=calls),
                usage=_usage(data.get("usage"), estimated_prompt, estimated, started),
                finish_reason=choice.get("finish_reason") or ("tool_calls" if calls else "stop"),
            ),
        )

    async def count_tokens(self, args: CountTokensArgs, ctx: CallContext) -> int:  # type: ignore[override]
        return prompt_tokens(args.prompt_messages, args.tools)

    # -----------------------------------------------------------------------------------------
    # Embeddings and rerank
    # -----------------------------------------------------------------------------------------

    async def invoke_text_embedding(  # type: ignore[override]
        self, args: InvokeTextEmbeddingArgs, ctx: CallContext
    ) -> TextEmbeddingResult:
        started = time.monotonic()
        batch = max(1, int(args.credentials.get("max_chunks") or 32))
        embeddings: list[list[float]] = []
        tokens = 0
        for start in range(0, len(args.texts), batch):
            texts = args.texts[start : start + batch]
            body: dict[str, Any] = {
                "model": _served_model(args.model, args.credentials),
                "input": texts,
                "encoding_format": "float",
            }
            if args.user:
                body["user"] = args.user
            data = await self._post_json("/embeddings", body, args.credentials)
            items = sorted(data.get("data") or [], key=lambda item: int(item.get("index", 0)))
            if len(items) != len(texts):
                raise InvokeServerUnavailableError(
                    f"the server returned {len(items)} embeddings for {len(texts)} texts"
                )
            embeddings.extend([float(x) for x in item["embedding"]] for item in items)
            usage = data.get("usage") or {}
            tokens += int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0) or sum(
                estimate_tokens(text) for text in texts
            )
        return TextEmbeddingResult(
            model=args.model,
            embeddings=embeddings,
            usage=EmbeddingUsage(tokens=tokens, total_tokens=tokens, latency=round(time.monotonic() - started, 3)),
        )

    async def invoke_rerank(self, args: InvokeRerankArgs, ctx: CallContext) -> RerankResult:  # type: ignore[override]
        if not args.docs:
            return RerankResult(model=args.model, docs=[])
        body: dict[str, Any] = {
            "model": _served_model(args.model, args.credentials),
            "query": args.query,
            "documents": args.docs,
        }
        if args.top_n is not None:
            body["top_n"] = args.top_n
        data = await self._post_json("/rerank", body, args.credentials)
        docs = [
            RerankDocument(index=int(r["index"]), text=args.docs[int(r["index"])], score=float(r["relevance_score"]))
            for r in data.get("results") or []
        ]
        if args.score_threshold is not None:
            docs = [doc for doc in docs if doc.score >= args.score_threshold]
        docs.sort(key=lambda doc: doc.score, reverse=True)
        if args.top_n is not None:
            docs = docs[: args.top_n]
        return RerankResult(model=args.model, docs=docs)

    # -----------------------------------------------------------------------------------------
    # Credentials
    # -----------------------------------------------------------------------------------------

    async def validate_credentials(  # type: ignore[override]
        self, args: ValidateModelCredentialsArgs, ctx: CallContext
    ) -> None:
        credentials = args.credentials
        try:
            _endpoint(credentials)
            if not args.model:
                await self._get_models(credentials)
            elif args.model_type == "text-embedding":
                await self.invoke_text_embedding(
                    InvokeTextEmbeddingArgs(model=args.model, credentials=credentials, texts=["ping"]), ctx
                )
            elif args.model_type == "rerank":
                await self.invoke_rerank(
                    InvokeRerankArgs(model=args.model, credentials=credentials, query="ping", docs=["pong"]), ctx
                )
            else:
                llm = InvokeLLMArgs(
                    model=args.model,
                    credentials=credentials,
                    prompt_messages=[PromptMessage(role=PromptMessageRole.USER, content="ping")],
                    model_parameters={"max_tokens": 1},
                    stream=False,
                )
                async for _ in self.invoke_llm(llm, ctx):
                    pass
        except (InvokeError, PluginInvalidArgument) as exc:
            raise CredentialsValidateFailedError(
                f"the credentials do not work: {exc.message}", details={"cause": exc.details}
            ) from None

    async def _get_models(self, credentials: dict[str, Any]) -> None:
        url = f"{_endpoint(credentials)}/models"
        api_key = credentials.get("api_key") or None
        try:
            response = await self._http().get(url, headers=_headers(credentials))
        except httpx.TransportError as exc:
            raise error_for_transport(exc, f"GET {url}", api_key) from None
        if response.status_code >= 400:
            raise error_for_response(response, response.content, f"GET {url}", api_key)


def _arguments_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)
