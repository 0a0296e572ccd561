"""The fake model provider: deterministic answers for every model type, with no network."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Iterator
from typing import Any

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.model_pricing import embedding_usage
from treadle_sdk.model_runtime import (
    CountTokensArgs,
    InvokeLLMArgs,
    InvokeModerationArgs,
    InvokeRerankArgs,
    InvokeSpeech2TextArgs,
    InvokeTextEmbeddingArgs,
    InvokeTTSArgs,
    LLMResultChunk,
    PromptMessageRole,
    RerankResult,
    TextEmbeddingResult,
    ToolCall,
    ToolCallFunction,
    TTSChunk,
    ValidateModelCredentialsArgs,
)
from treadle_sdk.parameter_rules import check_parameters
from treadle_sdk.schemas import ModelSchema, ModelType

from . import audio, structured
from .embedding import embed
from .moderation import flagged, keywords_of
from .reply import Reply, count_words, prompt_tokens, split_words
from .rerank import rerank
from .schema import ECHO, JSON, MAX_TOKENS_RULE, PROVIDER_SCHEMA, REJECTED_API_KEY
from .script import find_script, parse_script, turn_of

__all__ = ["FakeModelProvider"]


def _check_api_key(credentials: dict[str, Any]) -> None:
    if credentials.get("api_key") == REJECTED_API_KEY:
        raise PluginInvalidArgument(
            f"credential 'api_key' was rejected: the fake provider refuses the key {REJECTED_API_KEY!r} "
            "(any other key, or none, is accepted)",
            details={"field": "credentials.api_key"},
        )


def _max_tokens(model_parameters: dict[str, Any]) -> int | None:
    value = check_parameters([MAX_TOKENS_RULE], model_parameters).get("max_tokens")
    return None if value is None else int(value)


def _audio_bytes(args: InvokeSpeech2TextArgs) -> bytes:
    try:
        data = base64.b64decode(args.audio, validate=True)
    except (binascii.Error, ValueError):
        raise PluginInvalidArgument("'audio' is not valid base64", details={"field": "audio"}) from None
    if not data:
        raise PluginInvalidArgument("'audio' is empty: there is nothing to transcribe", details={"field": "audio"})
    return data


class FakeModelProvider(ModelProvider):
    """The ``fake`` provider: ``echo``, ``script`` and ``json`` LLMs, and a model of every other type.

    Everything is computed from the call's arguments alone, quickly and without I/O, so the
    provider runs on the event loop (``blocking = False``); scripted delays are awaited.
    """

    blocking = False
    schema = PROVIDER_SCHEMA

    def model(self, name: str, model_type: ModelType | None = None) -> ModelSchema:
        """The schema of model ``name``, which must be of ``model_type`` when one is given."""
        for model in self.schema.models:
            if model.model == name:
                if model_type is not None and model.model_type != model_type:
                    actual = ModelType(model.model_type).value
                    raise PluginInvalidArgument(
                        f"model {name!r} is a model of type {actual}, not {model_type.value}",
                        details={"field": "model"},
                    )
                return model
        raise PluginNotFound(
            f"the fake provider has no model {name!r}",
            details={"models": [model.model for model in self.schema.models]},
        )

    def validate_credentials(self, args: ValidateModelCredentialsArgs, ctx: CallContext) -> None:
        _check_api_key(args.credentials)
        if args.model:
            self.model(args.model)
        if args.credentials.get("script") is not None:
            parse_script(args.credentials["script"], "credentials.script")
        keywords_of(args.credentials)

    # -- LLMs ------------------------------------------------------------------------------------

    # An async generator, unlike the base's declared Iterable, so that scripted delays never block
    # the loop; the dispatcher runs either shape.
    async def invoke_llm(  # type: ignore[override]
        self, args: InvokeLLMArgs, ctx: CallContext
    ) -> AsyncIterator[LLMResultChunk]:
        _check_api_key(args.credentials)
        model = self.model(args.model, ModelType.LLM)
        reply, finish_reason = self._reply(args).limited(args.stop, _max_tokens(args.model_parameters))
        prompt = prompt_tokens(args.prompt_messages, args.tools)
        for chunk in reply.chunks(args.model, finish_reason, prompt, args.stream, model.pricing):
            if reply.delay_ms:
                await asyncio.sleep(reply.delay_ms / 1000)
            yield chunk

    def _reply(self, args: InvokeLLMArgs) -> Reply:
        if args.model == ECHO:
            users = [m for m in args.prompt_messages if m.role == PromptMessageRole.USER]
            return Reply(users[-1].text() if users else "")
        if args.model == JSON:
            return Reply(structured.answer(args.model_parameters, args.prompt_messages))
        return self._scripted_reply(args)

    def _scripted_reply(self, args: InvokeLLMArgs) -> Reply:
        script = find_script(args.model_parameters, args.credentials)
        turn = turn_of(args.prompt_messages)
        if turn >= len(script):
            raise PluginInvalidArgument(
                f"the script has {len(script)} replies but the prompt already holds {turn} assistant "
                f"messages, so it asks for reply {turn + 1}; add replies to the script",
                details={"replies": len(script), "turn": turn},
            )
        scripted = script[turn]
        calls = [
            # Ids are unique within a conversation and the same on every run.
            ToolCall(id=f"call_{turn}_{i}", function=ToolCallFunction(name=c.name, arguments=c.arguments_text()))
            for i, c in enumerate(scripted.tool_calls)
        ]
        return Reply(scripted.content, calls, scripted.delay_ms, scripted.reasoning)

    def count_tokens(self, args: CountTokensArgs, ctx: CallContext) -> int:
        self.model(args.model, ModelType.LLM)
        return prompt_tokens(args.prompt_messages, args.tools)

    # -- embeddings and rerank -------------------------------------------------------------------

    def invoke_text_embedding(self, args: InvokeTextEmbeddingArgs, ctx: CallContext) -> TextEmbeddingResult:
        _check_api_key(args.credentials)
        model = self.model(args.model, ModelType.TEXT_EMBEDDING)
        tokens = sum(count_words(text) for text in args.texts)
        return TextEmbeddingResult(
            model=args.model,
            embeddings=[embed(text) for text in args.texts],
            usage=embedding_usage(model.pricing, tokens),
        )

    def invoke_rerank(self, args: InvokeRerankArgs, ctx: CallContext) -> RerankResult:
        _check_api_key(args.credentials)
        self.model(args.model, ModelType.RERANK)
        return RerankResult(model=args.model, docs=rerank(args.query, args.docs, args.score_threshold, args.top_n))

    # -- audio -----------------------------------------------------------------------------------

    def invoke_tts(self, args: InvokeTTSArgs, ctx: CallContext) -> Iterator[TTSChunk]:
        _check_api_key(args.credentials)
        model = self.model(args.model, ModelType.TTS)
        voice = args.voice or str(model.model_properties["default_voice"])
        for piece in audio.wav_pieces(split_words(args.content_text), voice):
            yield TTSChunk(audio=base64.b64encode(piece).decode(), mime_type="audio/wav")

    def invoke_speech2text(self, args: InvokeSpeech2TextArgs, ctx: CallContext) -> str:
        _check_api_key(args.credentials)
        self.model(args.model, ModelType.SPEECH2TEXT)
        data = _audio_bytes(args)
        text = audio.read_text(data)
        return audio.describe(data) if text is None else text

    # -- moderation ------------------------------------------------------------------------------

    def invoke_moderation(self, args: InvokeModerationArgs, ctx: CallContext) -> bool:
        _check_api_key(args.credentials)
        self.model(args.model, ModelType.MODERATION)
        return flagged(args.text, keywords_of(args.credentials))
