"""The ``openai_compat`` provider: every model type against an OpenAI-compatible server."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.model_errors import CredentialsValidateFailedError, InvokeError, InvokeServerUnavailableError
from treadle_sdk.model_pricing import llm_usage
from treadle_sdk.model_runtime import (
    AssistantMessage,
    CountTokensArgs,
    EmbeddingUsage,
    InvokeLLMArgs,
    InvokeModerationArgs,
    InvokeRerankArgs,
    InvokeSpeech2TextArgs,
    InvokeTextEmbeddingArgs,
    InvokeTTSArgs,
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
    TTSChunk,
    ValidateModelCredentialsArgs,
)

from .audio import (
    audio_mime_type,
    moderation_batches,
    silence_wav,
    speech_body,
    transcription_form,
)
from .client import OpenAIClient, endpoint_of, served_model
from .schema import PROVIDER_SCHEMA
from .stream import ToolCallAssembler, sse_events
from .wire import chat_body, completion_body, estimate_tokens, prompt_tokens

__all__ = ["OpenAICompatProvider"]


def _completion_mode(credentials: dict[str, Any]) -> bool:
    """Whether the model is a completion model (credential ``mode``), served by ``/completions``."""
    mode = credentials.get("mode") or "chat"
    if mode not in ("chat", "completion"):
        raise PluginInvalidArgument(
            f"model credential 'mode' must be 'chat' or 'completion', not {mode!r}",
            details={"field": "credentials.mode"},
        )
    return bool(mode == "completion")


def _usage(data: Any, prompt: int, completion: int, started: float) -> LLMUsage:
    """The call's usage: the server's counts when it sent them, else the estimates."""
    if isinstance(data, dict):
        prompt = int(data.get("prompt_tokens") or prompt)
        completion = int(data.get("completion_tokens") or completion)
    return llm_usage(None, prompt, completion, latency=round(time.monotonic() - started, 3))


def _reasoning(delta: dict[str, Any]) -> str:
    # DeepSeek and vLLM send ``reasoning_content``; some servers (OpenRouter, newer vLLM) ``reasoning``.
    value = delta.get("reasoning_content") or delta.get("reasoning")
    return value if isinstance(value, str) else ""


def _arguments_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


class OpenAICompatProvider(ModelProvider):
    """Models served by any OpenAI-compatible HTTP server, added by the user (``customizable-model``).

    All I/O is async on one ``httpx.AsyncClient`` per provider instance, so calls run on the event
    loop (``blocking = False``) and share the connection pool.
    """

    blocking = False
    schema = PROVIDER_SCHEMA

    def __init__(self) -> None:
        self.http = OpenAIClient()

    async def aclose(self) -> None:
        """Close the HTTP client (a later call opens a new one)."""
        await self.http.aclose()

    # -----------------------------------------------------------------------------------------
    # LLM
    # -----------------------------------------------------------------------------------------

    # An async generator, unlike the base's declared Iterable, so that HTTP never blocks the loop.
    async def invoke_llm(  # type: ignore[override]
        self, args: InvokeLLMArgs, ctx: CallContext
    ) -> AsyncIterator[LLMResultChunk]:
        started = time.monotonic()
        model = served_model(args.model, args.credentials)
        completion = _completion_mode(args.credentials)
        path = "/completions" if completion else "/chat/completions"
        body = completion_body(args, model) if completion else chat_body(args, model)
        estimated_prompt = prompt_tokens(args.prompt_messages, args.tools)
        if not args.stream:
            data = await self.http.post_json(path, args.credentials, json=body)
            yield self._whole_answer(args.model, data, estimated_prompt, started, completion)
            return
        assembler = ToolCallAssembler()
        produced: list[str] = []
        finish_reason: str | None = None
        usage: Any = None
        fingerprint: str | None = None
        index = 0
        async with self.http.post(path, args.credentials, json=body, stream=True) as response:
            async for event in sse_events(response.aiter_lines()):
                fingerprint = event.get("system_fingerprint") or fingerprint
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("tool_calls"):
                        assembler.add(delta["tool_calls"])
                    finish_reason = choice.get("finish_reason") or finish_reason
                    content = (choice.get("text") if completion else delta.get("content")) or ""
                    reasoning = _reasoning(delta)
                    if content or reasoning:
                        produced += [content, reasoning]
                        yield LLMResultChunk(
                            model=args.model,
                            system_fingerprint=fingerprint,
                            delta=LLMDelta(
                                index=index, message=AssistantMessage(content=content), reasoning=reasoning
                            ),
                        )
                        index += 1
        calls = assembler.calls()
        estimated = estimate_tokens("".join(produced)) + sum(
            estimate_tokens(call.function.name + call.function.arguments) for call in calls
        )
        yield LLMResultChunk(
            model=args.model,
            system_fingerprint=fingerprint,
            delta=LLMDelta(
                index=index,
                message=AssistantMessage(tool_calls=calls),
                usage=_usage(usage, estimated_prompt, estimated, started),
                finish_reason=finish_reason or ("tool_calls" if calls else "stop"),
            ),
        )

    def _whole_answer(
        self, model: str, data: dict[str, Any], estimated_prompt: int, started: float, completion: bool
    ) -> LLMResultChunk:
        choices = data.get("choices") or []
        if not choices:
            raise InvokeServerUnavailableError("the server answered the completion with no choices")
        choice = choices[0]
        message = {"content": choice.get("text")} if completion else choice.get("message") or {}
        content = message.get("content") or ""
        reasoning = _reasoning(message)
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
        estimated = estimate_tokens(content + reasoning) + sum(estimate_tokens(c.function.arguments) for c in calls)
        return LLMResultChunk(
            model=model,
            system_fingerprint=data.get("system_fingerprint"),
            delta=LLMDelta(
                index=0,
                message=AssistantMessage(content=content, tool_calls=calls),
                reasoning=reasoning,
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
                "model": served_model(args.model, args.credentials),
                "input": texts,
                "encoding_format": "float",
            }
            if args.user:
                body["user"] = args.user
            data = await self.http.post_json("/embeddings", args.credentials, json=body)
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
            "model": served_model(args.model, args.credentials),
            "query": args.query,
            "documents": args.docs,
        }
        if args.top_n is not None:
            body["top_n"] = args.top_n
        data = await self.http.post_json("/rerank", args.credentials, json=body)
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
    # Audio and moderation
    # -----------------------------------------------------------------------------------------

    async def invoke_tts(  # type: ignore[override]
        self, args: InvokeTTSArgs, ctx: CallContext
    ) -> AsyncIterator[TTSChunk]:
        """``POST /audio/speech``: the audio streams on as the server sends it."""
        body = speech_body(args, served_model(args.model, args.credentials))
        async with self.http.post("/audio/speech", args.credentials, json=body, stream=True) as response:
            mime_type = audio_mime_type(body["response_format"], response.headers.get("content-type"))
            async for piece in response.aiter_bytes():
                if piece:
                    yield TTSChunk(audio=base64.b64encode(piece).decode(), mime_type=mime_type)

    async def invoke_speech2text(  # type: ignore[override]
        self, args: InvokeSpeech2TextArgs, ctx: CallContext
    ) -> str:
        """``POST /audio/transcriptions`` with the file as multipart form data; the ``text`` answered."""
        files, fields = transcription_form(args, served_model(args.model, args.credentials))
        data = await self.http.post_json("/audio/transcriptions", args.credentials, files=files, data=fields)
        if not isinstance(data.get("text"), str):
            raise InvokeServerUnavailableError("the server's transcription has no 'text'")
        return str(data["text"])

    async def invoke_moderation(  # type: ignore[override]
        self, args: InvokeModerationArgs, ctx: CallContext
    ) -> bool:
        """``POST /moderations``, the text in pieces; flagged when any piece is."""
        model = served_model(args.model, args.credentials)
        for batch in moderation_batches(args.text):
            data = await self.http.post_json("/moderations", args.credentials, json={"model": model, "input": batch})
            results = data.get("results")
            if not isinstance(results, list) or len(results) != len(batch):
                raise InvokeServerUnavailableError(
                    f"the server answered {len(results) if isinstance(results, list) else 'no'} moderation "
                    f"results for {len(batch)} inputs"
                )
            if any(isinstance(result, dict) and result.get("flagged") for result in results):
                return True
        return False

    # -----------------------------------------------------------------------------------------
    # Credentials
    # -----------------------------------------------------------------------------------------

    async def validate_credentials(  # type: ignore[override]
        self, args: ValidateModelCredentialsArgs, ctx: CallContext
    ) -> None:
        """The smallest call of the model's type (or ``GET /models`` for provider credentials);
        :class:`CredentialsValidateFailedError` with the server's message when it fails."""
        credentials = args.credentials
        model = args.model
        try:
            endpoint_of(credentials)
            if not model:
                await self.http.get("/models", credentials)
            elif args.model_type == "text-embedding":
                await self.invoke_text_embedding(
                    InvokeTextEmbeddingArgs(model=model, credentials=credentials, texts=["ping"]), ctx
                )
            elif args.model_type == "rerank":
                await self.invoke_rerank(
                    InvokeRerankArgs(model=model, credentials=credentials, query="ping", docs=["pong"]), ctx
                )
            elif args.model_type == "tts":
                async for _ in self.invoke_tts(InvokeTTSArgs(model=model, credentials=credentials, content_text="ping"),
                                               ctx):
                    pass
            elif args.model_type == "speech2text":
                audio = base64.b64encode(silence_wav()).decode()
                await self.invoke_speech2text(
                    InvokeSpeech2TextArgs(model=model, credentials=credentials, audio=audio, filename="ping.wav"), ctx
                )
            elif args.model_type == "moderation":
                await self.invoke_moderation(InvokeModerationArgs(model=model, credentials=credentials, text="ping"),
                                             ctx)
            else:
                llm = InvokeLLMArgs(
                    model=model,
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
