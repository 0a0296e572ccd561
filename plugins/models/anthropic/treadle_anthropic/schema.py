"""What the Anthropic provider describes about itself: its credentials and its predefined models."""

from __future__ import annotations

from treadle_sdk.schemas import (
    CredentialFormSchema,
    ModelFeature,
    ModelPricing,
    ModelProviderSchema,
    ModelSchema,
    ModelType,
    ParameterRule,
)

__all__ = ["DEFAULT_API_URL", "DEFAULT_MAX_TOKENS", "PROVIDER_SCHEMA", "VALIDATION_MODEL"]

DEFAULT_API_URL = "https://api.anthropic.com"
#: The Messages API requires ``max_tokens``; this is what we send when the caller set none.
DEFAULT_MAX_TOKENS = 4096
#: The cheapest model, used by ``validate_credentials`` when no model is named.
VALIDATION_MODEL = "claude-3-5-haiku-latest"

_FEATURES = [
    ModelFeature.AGENT_THOUGHT,
    ModelFeature.VISION,
    ModelFeature.TOOL_CALL,
    ModelFeature.MULTI_TOOL_CALL,
    ModelFeature.STREAM_TOOL_CALL,
]


def _rules(max_output: int) -> list[ParameterRule]:
    return [
        ParameterRule(name="temperature", use_template="temperature", type="float", min=0, max=1, precision=2),
        ParameterRule(name="top_p", use_template="top_p", type="float", min=0, max=1, precision=2),
        ParameterRule(
            name="top_k",
            label="Top K",
            type="int",
            min=1,
            help="Sample only from the K most likely tokens.",
        ),
        ParameterRule(
            name="max_tokens",
            use_template="max_tokens",
            type="int",
            required=True,
            default=DEFAULT_MAX_TOKENS,
            min=1,
            max=max_output,
        ),
    ]


def _model(model: str, label: str, max_output: int, price_in: str, price_out: str) -> ModelSchema:
    return ModelSchema(
        model=model,
        label=label,
        model_type=ModelType.LLM,
        features=_FEATURES,
        model_properties={"mode": "chat", "context_size": 200000},
        parameter_rules=_rules(max_output),
        pricing=ModelPricing(input=price_in, output=price_out, unit="0.000001", currency="USD"),
    )


PROVIDER_SCHEMA = ModelProviderSchema(
    name="anthropic",
    label="Anthropic",
    description="Claude models through Anthropic's Messages API: streaming, tool use and vision.",
    supported_model_types=[ModelType.LLM],
    configurate_methods=["predefined-model"],
    provider_credential_schema=[
        CredentialFormSchema(
            variable="anthropic_api_key",
            label="API key",
            type="secret-input",
            required=True,
            placeholder="sk-ant-...",
        ),
        CredentialFormSchema(
            variable="anthropic_api_url",
            label="API URL",
            type="text-input",
            default=DEFAULT_API_URL,
            placeholder=DEFAULT_API_URL,
        ),
    ],
    models=[
        _model("claude-sonnet-4-5", "Claude Sonnet 4.5", 64000, "3.00", "15.00"),
        _model("claude-opus-4-1", "Claude Opus 4.1", 32000, "15.00", "75.00"),
        _model("claude-haiku-4-5", "Claude Haiku 4.5", 64000, "1.00", "5.00"),
        _model("claude-3-7-sonnet-latest", "Claude 3.7 Sonnet", 64000, "3.00", "15.00"),
        _model(VALIDATION_MODEL, "Claude 3.5 Haiku", 8192, "0.80", "4.00"),
    ],
)
