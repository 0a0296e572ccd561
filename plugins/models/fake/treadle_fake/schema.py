"""What the fake provider describes about itself: its credentials and its predefined models."""

from __future__ import annotations

from treadle_sdk.schemas import (
    CredentialFormSchema,
    ModelFeature,
    ModelProviderSchema,
    ModelSchema,
    ModelType,
    ParameterRule,
)

from .embedding import DIMENSION
from .script import MAX_DELAY_MS

__all__ = ["ECHO", "EMBEDDING", "PROVIDER_SCHEMA", "REJECTED_API_KEY", "SCRIPT"]

ECHO = "echo"
SCRIPT = "script"
EMBEDDING = "fake-embedding"

#: The one API key the provider refuses, so that callers can test their handling of bad credentials.
REJECTED_API_KEY = "invalid"

_MAX_TOKENS = ParameterRule(
    name="max_tokens",
    use_template="max_tokens",
    label="Max tokens",
    type="int",
    min=1,
    help="Cut the reply after this many words (finish reason 'length').",
)

_SCRIPT_RULE = ParameterRule(
    name="script",
    label="Script",
    type="text",
    help=(
        "A JSON list of replies, one per turn: each a string or "
        '{"content": ..., "tool_calls": [{"name": ..., "arguments": {...}}], "delay_ms": ...} '
        f"(delay_ms up to {MAX_DELAY_MS})."
    ),
)

_LLM_PROPERTIES = {"mode": "chat", "context_size": 8192}

PROVIDER_SCHEMA = ModelProviderSchema(
    name="fake",
    label="Fake (tests and demos)",
    description=(
        "A deterministic, scriptable model provider for tests and demos: no network, no weights. "
        "'echo' repeats the last user message, 'script' replays scripted replies, 'fake-embedding' "
        "hashes texts into vectors."
    ),
    supported_model_types=[ModelType.LLM, ModelType.TEXT_EMBEDDING],
    provider_credential_schema=[
        CredentialFormSchema(
            variable="api_key",
            label="API key",
            type="secret-input",
            placeholder=f"Any value; {REJECTED_API_KEY!r} is refused",
        ),
        CredentialFormSchema(
            variable="script",
            label="Script",
            type="text-input",
            placeholder="A JSON list of replies for the script model (model parameters override it)",
        ),
    ],
    models=[
        ModelSchema(
            model=ECHO,
            label="Echo",
            model_type=ModelType.LLM,
            model_properties=_LLM_PROPERTIES,
            parameter_rules=[_MAX_TOKENS],
        ),
        ModelSchema(
            model=SCRIPT,
            label="Script",
            model_type=ModelType.LLM,
            features=[ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.STREAM_TOOL_CALL],
            model_properties=_LLM_PROPERTIES,
            parameter_rules=[_SCRIPT_RULE, _MAX_TOKENS],
        ),
        ModelSchema(
            model=EMBEDDING,
            label="Fake embedding",
            model_type=ModelType.TEXT_EMBEDDING,
            model_properties={"context_size": 8192, "max_chunks": 64, "dimensions": DIMENSION},
        ),
    ],
)
