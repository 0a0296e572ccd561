"""The fake model provider: deterministic answers, tokens, and embeddings, with no network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.model_runtime import (
    CountTokensArgs,
    EmbeddingUsage,
    InvokeLLMArgs,
    InvokeTextEmbeddingArgs,
    LLMResultChunk,
    PromptMessageRole,
    TextEmbeddingResult,
    ToolCall,
    ToolCallFunction,
    ValidateModelCredentialsArgs,
)
from treadle_sdk.schemas import ModelSchema, ModelType

from .embedding import embed
from .reply import Reply, count_words, prompt_tokens
from .schema import ECHO, PROVIDER_SCHEMA, REJECTED_API_KEY
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
    value = model_parameters.get("max_tokens")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PluginInvalidArgument(
            f"model parameter 'max_tokens' must be a whole number of at least 1, not {value!r}",
            details={"field": "model_parameters.max_tokens"},
        )
    return value


class FakeModelProvider(ModelProvider):
    """The ``fake`` provider: ``echo`` and ``script`` LLMs and the ``fake-embedding`` model.

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

    # An async generator, unlike the base's declared Iterable, so that scripted delays never block
    # the loop; the dispatcher runs either shape.
    async def invoke_llm(  # type: ignore[override]
        self, args: InvokeLLMArgs, ctx: CallContext
    ) -> AsyncIterator[LLMResultChunk]:
        _check_api_key(args.credentials)
        self.model(args.model, ModelType.LLM)
        reply, finish_reason = self._reply(args).limited(args.stop, _max_tokens(args.model_parameters))
        chunks = reply.chunks(args.model, finish_reason, prompt_tokens(args.prompt_messages, args.tools), args.stream)
        for chunk in chunks:
            if reply.delay_ms:
                await asyncio.sleep(reply.delay_ms / 1000)
            yield chunk

    def _reply(self, args: InvokeLLMArgs) -> Reply:
        if args.model == ECHO:
            users = [m for m in args.prompt_messages if m.role == PromptMessageRole.USER]
            return Reply(users[-1].text() if users else "")
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
        return Reply(scripted.content, calls, scripted.delay_ms)

    def count_tokens(self, args: CountTokensArgs, ctx: CallContext) -> int:
        self.model(args.model, ModelType.LLM)
        return prompt_tokens(args.prompt_messages, args.tools)

    def invoke_text_embedding(self, args: InvokeTextEmbeddingArgs, ctx: CallContext) -> TextEmbeddingResult:
        _check_api_key(args.credentials)
        self.model(args.model, ModelType.TEXT_EMBEDDING)
        tokens = sum(count_words(text) for text in args.texts)
        return TextEmbeddingResult(
            model=args.model,
            embeddings=[embed(text) for text in args.texts],
            usage=EmbeddingUsage(tokens=tokens, total_tokens=tokens),
        )
