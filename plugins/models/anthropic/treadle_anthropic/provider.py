"""The Anthropic model provider: ``invoke_llm``, ``count_tokens`` and ``validate_credentials``."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginNotFound
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.model_errors import CredentialsValidateFailedError, InvokeBadRequestError, InvokeError
from treadle_sdk.model_pricing import llm_usage
from treadle_sdk.model_runtime import (
    CountTokensArgs,
    InvokeLLMArgs,
    LLMResultChunk,
    LLMUsage,
    PromptMessage,
    ValidateModelCredentialsArgs,
)
from treadle_sdk.parameter_rules import check_parameters
from treadle_sdk.schemas import ModelSchema

from .client import AnthropicClient, Endpoint
from .messages import build_body
from .schema import PROVIDER_SCHEMA, VALIDATION_MODEL
from .stream import MessageAssembler, read_events, truncated

__all__ = ["AnthropicModelProvider"]


def _estimate_tokens(body: dict[str, Any]) -> int:
    # About four characters a token for English text: the figure Anthropic's docs give.
    text = json.dumps([body.get("system", ""), body["messages"], body.get("tools", [])], ensure_ascii=False)
    return max(1, len(text) // 4)


class AnthropicModelProvider(ModelProvider):
    """The ``anthropic`` provider: Claude chat models over the Messages API.

    All I/O is awaited on the host's event loop (``blocking = False``) through a reused HTTP client.
    """

    blocking = False
    schema = PROVIDER_SCHEMA

    def __init__(self) -> None:
        self.http = AnthropicClient()

    def _known(self, model: str) -> ModelSchema | None:
        for known in self.schema.models:
            if known.model == model:
                return known
        return None  # a model newer than this list: the API decides whether it exists

    def _usage_for(self, model: str, started: float) -> Callable[[int, int], LLMUsage]:
        known = self._known(model)
        pricing = known.pricing if known is not None else None

        def usage(prompt: int, completion: int) -> LLMUsage:
            return llm_usage(pricing, prompt, completion, latency=time.perf_counter() - started)

        return usage

    def _parameters(self, model: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """The parameters checked against the model's rules (as sent, for a model not in the list)."""
        known = self._known(model)
        return parameters if known is None else check_parameters(known.parameter_rules, parameters)

    async def invoke_llm(  # type: ignore[override]
        self, args: InvokeLLMArgs, ctx: CallContext
    ) -> AsyncIterator[LLMResultChunk]:
        """Stream the answer of ``args.model``: text deltas as they come, then one last chunk with
        the tool calls, usage and finish reason (or the one chunk of a non-streamed answer)."""
        started = time.perf_counter()
        endpoint = Endpoint(args.credentials)
        body = build_body(
            args.model, args.prompt_messages, tools=args.tools,
            parameters=self._parameters(args.model, args.model_parameters),
            stop=args.stop, stream=args.stream, user=args.user,
        )
        assembler = MessageAssembler(args.model, self._usage_for(args.model, started), endpoint.api_key)
        async with self.http.post(endpoint, "/v1/messages", body, model=args.model) as response:
            if not args.stream:
                yield assembler.feed_message(json.loads(await response.aread()))
                return
            lines = response.aiter_lines()
            async for event in read_events(lines):
                chunk = assembler.feed(event)
                if chunk is not None:
                    yield chunk
                if assembler.done:
                    # Read the body to its end, so the connection goes back to the pool.
                    async for _ in lines:
                        pass
                    break
        if not assembler.done:
            raise truncated(args.model)
        yield assembler.final()

    async def count_tokens(self, args: CountTokensArgs, ctx: CallContext) -> int:  # type: ignore[override]
        """The prompt's tokens as the API counts them, or an estimate where the server has no
        ``count_tokens`` endpoint (404: a proxy or an Anthropic-compatible server)."""
        endpoint = Endpoint(args.credentials)
        body = build_body(args.model, args.prompt_messages, tools=args.tools)
        del body["max_tokens"]
        try:
            async with self.http.post(endpoint, "/v1/messages/count_tokens", body, model=args.model) as response:
                data = json.loads(await response.aread())
        except InvokeBadRequestError as exc:
            if exc.details.get("status") != 404:
                raise
            return _estimate_tokens(body)
        return int(data["input_tokens"])

    async def validate_credentials(  # type: ignore[override]
        self, args: ValidateModelCredentialsArgs, ctx: CallContext
    ) -> None:
        """Make the smallest call there is (one output token); raise
        :class:`CredentialsValidateFailedError` with the API's message if it fails."""
        model = args.model or VALIDATION_MODEL
        if args.model_type and args.model_type != "llm":
            raise PluginNotFound(f"the anthropic provider has no models of type {args.model_type!r}")
        endpoint = Endpoint(args.credentials)
        body = build_body(model, [PromptMessage(role="user", content="ping")], parameters={"max_tokens": 1})
        try:
            async with self.http.post(endpoint, "/v1/messages", body, model=model) as response:
                await response.aread()
        except InvokeError as exc:
            raise CredentialsValidateFailedError(
                f"the Anthropic credentials failed validation: {exc}", details={"cause": exc.error_type}
            ) from None
