"""A model provider ``leaky`` whose errors echo the credentials they were called with, in the message
and in the details, to test that the kernel blanks them out.

Models (llm): ``ok`` answers ``fine``; ``auth-error`` raises an ``InvokeAuthorizationError``;
``untyped-error`` raises an error without an error type; ``slow`` takes ``seconds`` (a model
parameter) to answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from treadle_sdk import CallContext, hookimpl
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.model_errors import InvokeAuthorizationError
from treadle_sdk.model_runtime import AssistantMessage, InvokeLLMArgs, LLMDelta, LLMResultChunk
from treadle_sdk.schemas import CredentialFormSchema, ModelProviderSchema, ModelSchema, ModelType


def _llm(name: str) -> ModelSchema:
    return ModelSchema(model=name, model_type=ModelType.LLM)


class LeakyProvider(ModelProvider):
    blocking = False
    schema = ModelProviderSchema(
        name="leaky",
        label="Leaky",
        supported_model_types=[ModelType.LLM],
        provider_credential_schema=[
            CredentialFormSchema(variable="api_key", label="API key", type="secret-input", required=True),
            CredentialFormSchema(variable="org", label="Organisation", type="text-input"),
        ],
        models=[_llm("ok"), _llm("auth-error"), _llm("untyped-error"), _llm("slow")],
    )

    async def invoke_llm(  # type: ignore[override]
        self, args: InvokeLLMArgs, ctx: CallContext
    ) -> AsyncIterator[LLMResultChunk]:
        key: Any = args.credentials.get("api_key")
        if args.model == "auth-error":
            raise InvokeAuthorizationError(f"the key {key} was refused", details={"echo": {"key": key}})
        if args.model == "untyped-error":
            raise PluginInvalidArgument(f"cannot use {key} here", details={"echo": [key]})
        if args.model == "slow":
            await asyncio.sleep(float(args.model_parameters.get("seconds", 1)))
        yield LLMResultChunk(model=args.model, delta=LLMDelta(index=0, message=AssistantMessage(content="fine"),
                                                              finish_reason="stop"))


@hookimpl
def register_models(register: Callable[[ModelProvider], None]) -> None:
    register(LeakyProvider())
