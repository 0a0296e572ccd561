"""A model provider for the tests: the OpenAI-compatible provider's wire code with one predefined
model, ``gpt-native``, that lists ``vision`` and tool calls among its features and offers the
``response_format`` and ``json_schema`` parameters (so nodes use JSON-schema output natively)."""

from __future__ import annotations

from collections.abc import Callable

from treadle_openai_compat import OpenAICompatProvider
from treadle_openai_compat.schema import PROVIDER_SCHEMA as OPENAI_COMPAT
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.schemas import ModelFeature, ModelProviderSchema, ModelSchema, ModelType, ParameterRule

NATIVE = ModelProviderSchema(
    name="openai_native",
    label="OpenAI wire, predefined model (tests)",
    supported_model_types=[ModelType.LLM],
    configurate_methods=["predefined-model"],
    provider_credential_schema=list(OPENAI_COMPAT.provider_credential_schema),
    models=[
        ModelSchema(
            model="gpt-native",
            model_type=ModelType.LLM,
            features=[ModelFeature.VISION, ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL],
            model_properties={"mode": "chat", "context_size": 128000},
            parameter_rules=[
                ParameterRule(name="temperature", type="float"),
                ParameterRule(name="response_format", type="string", options=["text", "json_object", "json_schema"]),
                ParameterRule(name="json_schema", type="text"),
            ],
        )
    ],
)


class NativeProvider(OpenAICompatProvider):
    schema = NATIVE


@hookimpl
def register_models(register: Callable[[ModelProvider], None]) -> None:
    register(NativeProvider())
