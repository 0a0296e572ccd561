"""What the Anthropic provider describes about itself: its credentials and its predefined models."""

from __future__ import annotations

from treadle_sdk.parameter_rules import with_templates
from treadle_sdk.schemas import (
    CredentialFormSchema,
    ModelFeature,
    ModelPricing,
    ModelProviderSchema,
    ModelSchema,
    ModelType,
    ParameterRule,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_THINKING_BUDGET",
    "PROVIDER_SCHEMA",
    "VALIDATION_MODEL",
]

DEFAULT_API_URL = "https://api.anthropic.com"
#: The Messages API requires ``max_tokens``; this is what we send when the caller set none.
DEFAULT_MAX_TOKENS = 4096
#: The cheapest model, used by ``validate_credentials`` when no model is named.
VALIDATION_MODEL = "claude-3-5-haiku-latest"
#: The smallest thinking budget the API accepts, and the one used when thinking is on without a budget.
DEFAULT_THINKING_BUDGET = 1024

_FEATURES = [
    ModelFeature.AGENT_THOUGHT,
    ModelFeature.VISION,
    ModelFeature.TOOL_CALL,
    ModelFeature.MULTI_TOOL_CALL,
    ModelFeature.STREAM_TOOL_CALL,
]


_THINKING_RULES = [
    ParameterRule(
        name="thinking",
        label="Extended thinking",
        type="boolean",
        default=False,
        help="Let the model think before it answers; the thinking streams apart from the answer. "
        "Temperature and top K are not sent while it is on.",
    ),
    ParameterRule(
        name="thinking_budget",
        label="Thinking budget",
        type="int",
        default=DEFAULT_THINKING_BUDGET,
        min=DEFAULT_THINKING_BUDGET,
        help="The most tokens the model may think for; they count against max tokens, which must be larger.",
    ),
]

_TOOL_CHOICE = ParameterRule(
    name="tool_choice",
    label="Tool choice",
    type="string",
    help="auto (the model decides), any (it must call a tool), none (it may not), or the name of the one "
    "offered tool it must call.",
)


def _rules(max_output: int, thinking: bool) -> list[ParameterRule]:
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
        _TOOL_CHOICE,
        *(_THINKING_RULES if thinking else []),
    ]


def _model(
    model: str, label: str, max_output: int, price_in: str, price_out: str, *, thinking: bool = True
) -> ModelSchema:
    return ModelSchema(
        model=model,
        label=label,
        model_type=ModelType.LLM,
        features=_FEATURES,
        model_properties={"mode": "chat", "context_size": 200000},
        parameter_rules=_rules(max_output, thinking),
        pricing=ModelPricing(input=price_in, output=price_out, unit="0.000001", currency="USD"),
    )


PROVIDER_SCHEMA = with_templates(ModelProviderSchema(
    name="anthropic",
    label="Anthropic",
    description="Claude models through Anthropic's Messages API: streaming, tool use, vision and extended thinking.",
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
        _model(VALIDATION_MODEL, "Claude 3.5 Haiku", 8192, "0.80", "4.00", thinking=False),
    ],
))
