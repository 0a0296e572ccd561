"""What the provider describes about itself: provider credentials and the per-model credential form.

Models are not predefined: the user adds each model the server serves (``customizable-model``),
with the same form as Dify's ``openai_api_compatible`` provider.
"""

from __future__ import annotations

from treadle_sdk.schemas import CredentialFormSchema, ModelProviderSchema, ModelType

__all__ = ["PROVIDER_SCHEMA"]

_YES_NO = [
    {"value": "support", "label": {"en_US": "Support"}},
    {"value": "no_support", "label": {"en_US": "Not support"}},
]
_LLM_ONLY = [{"variable": "__model_type", "value": "llm"}]

_CONNECTION = [
    CredentialFormSchema(
        variable="api_key",
        label="API key",
        type="secret-input",
        placeholder="Leave empty for local servers that need no key",
    ),
    CredentialFormSchema(
        variable="endpoint_url",
        label="API endpoint URL",
        type="text-input",
        required=True,
        placeholder="https://api.openai.com/v1 or http://localhost:11434/v1",
    ),
    CredentialFormSchema(
        variable="organization",
        label="Organization",
        type="text-input",
        placeholder="Sent as OpenAI-Organization when set",
    ),
]

PROVIDER_SCHEMA = ModelProviderSchema(
    name="openai_compat",
    label="OpenAI-API-compatible",
    description=(
        "Any server that speaks OpenAI's HTTP API: OpenAI, vLLM, Ollama, LM Studio, DeepSeek and the "
        "like. Chat and completion models with streaming, reasoning, tool calls, vision and JSON-schema "
        "output; embeddings; rerank; text to speech; speech to text; moderation."
    ),
    supported_model_types=list(ModelType),
    configurate_methods=["customizable-model"],
    provider_credential_schema=_CONNECTION,
    model_credential_schema=[
        *_CONNECTION,
        CredentialFormSchema(
            variable="endpoint_model_name",
            label="Model name on the endpoint",
            type="text-input",
            placeholder="When the server knows the model by another name",
        ),
        CredentialFormSchema(
            variable="context_size", label="Model context size", type="text-input", required=True, default="4096"
        ),
        CredentialFormSchema(
            variable="mode",
            label="Completion mode",
            type="select",
            default="chat",
            options=[
                {"value": "chat", "label": {"en_US": "Chat"}},
                {"value": "completion", "label": {"en_US": "Completion"}},
            ],
            show_on=_LLM_ONLY,
        ),
        CredentialFormSchema(
            variable="max_tokens_to_sample",
            label="Upper bound for max tokens",
            type="text-input",
            default="4096",
            show_on=_LLM_ONLY,
        ),
        CredentialFormSchema(
            variable="vision_support", label="Vision support", type="radio", default="no_support",
            options=_YES_NO, show_on=_LLM_ONLY,
        ),
        CredentialFormSchema(
            variable="function_calling_type",
            label="Function calling",
            type="select",
            default="no_call",
            options=[
                {"value": "function_call", "label": {"en_US": "Function call"}},
                {"value": "tool_call", "label": {"en_US": "Tool call"}},
                {"value": "no_call", "label": {"en_US": "Not support"}},
            ],
            show_on=_LLM_ONLY,
        ),
        CredentialFormSchema(
            variable="stream_function_calling", label="Stream function calling", type="radio",
            default="support", options=_YES_NO, show_on=_LLM_ONLY,
        ),
        CredentialFormSchema(
            variable="structured_output_support", label="Structured output (json_schema)", type="radio",
            default="no_support", options=_YES_NO, show_on=_LLM_ONLY,
        ),
        CredentialFormSchema(
            variable="max_chunks", label="Texts per embedding request", type="text-input", default="32",
            show_on=[{"variable": "__model_type", "value": "text-embedding"}],
        ),
        CredentialFormSchema(
            variable="default_voice",
            label="Voice",
            type="text-input",
            default="alloy",
            placeholder="The voice used when a call names none",
            show_on=[{"variable": "__model_type", "value": "tts"}],
        ),
    ],
)
