"""What the fake provider describes about itself: its credentials and its predefined models."""

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

from .embedding import DIMENSION
from .moderation import DEFAULT_KEYWORDS
from .script import MAX_DELAY_MS

__all__ = [
    "ECHO",
    "EMBEDDING",
    "JSON",
    "MAX_TOKENS_RULE",
    "MODERATION",
    "PROVIDER_SCHEMA",
    "REJECTED_API_KEY",
    "RERANK",
    "SCRIPT",
    "SPEECH2TEXT",
    "TTS",
]

ECHO = "echo"
SCRIPT = "script"
JSON = "json"
EMBEDDING = "fake-embedding"
RERANK = "fake-rerank"
TTS = "fake-tts"
SPEECH2TEXT = "fake-speech2text"
MODERATION = "fake-moderation"

#: The one API key the provider refuses, so that callers can test their handling of bad credentials.
REJECTED_API_KEY = "invalid"

# No upper bound: a DSL written for another provider's model keeps working when mapped to fake.
MAX_TOKENS_RULE = ParameterRule(
    name="max_tokens",
    use_template="max_tokens",
    min=1,
    max=None,
    help="Cut the reply after this many words (finish reason 'length').",
)

_SCRIPT_RULE = ParameterRule(
    name="script",
    label="Script",
    type="text",
    help=(
        "A JSON list of replies, one per turn: each a string or "
        '{"content": ..., "reasoning": ..., "tool_calls": [{"name": ..., "arguments": {...}}], "delay_ms": ...} '
        f"(delay_ms up to {MAX_DELAY_MS})."
    ),
)

_JSON_RULES = [
    ParameterRule(
        name="response_format",
        use_template="response_format",
        options=["text", "json_object", "json_schema"],
        help="Any value: the json model always answers JSON.",
    ),
    ParameterRule(
        name="json_schema",
        use_template="json_schema",
        help="The JSON schema the answer follows (the minimal valid value of it is generated).",
    ),
]

_LLM_PROPERTIES = {"mode": "chat", "context_size": 8192}

# Per thousand tokens, so that small test prompts still cost something visible.
_LLM_PRICING = ModelPricing(input="0.001", output="0.002", unit="0.001", currency="USD")
_EMBEDDING_PRICING = ModelPricing(input="0.0001", unit="0.001", currency="USD")

PROVIDER_SCHEMA = with_templates(ModelProviderSchema(
    name="fake",
    label="Fake (tests and demos)",
    description=(
        "A deterministic, scriptable model provider for tests and demos: no network, no weights. "
        "'echo' repeats the last user message, 'script' replays scripted replies, 'json' answers JSON "
        "that fits a schema; embeddings, rerank, text to speech, speech to text and moderation are "
        "computed from their inputs."
    ),
    supported_model_types=list(ModelType),
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
        CredentialFormSchema(
            variable="moderation_keywords",
            label="Moderation keywords",
            type="text-input",
            default=", ".join(DEFAULT_KEYWORDS),
            placeholder="Comma-separated words the moderation model flags",
        ),
    ],
    models=[
        ModelSchema(
            model=ECHO,
            label="Echo",
            model_type=ModelType.LLM,
            model_properties=_LLM_PROPERTIES,
            parameter_rules=[MAX_TOKENS_RULE],
            pricing=_LLM_PRICING,
        ),
        ModelSchema(
            model=SCRIPT,
            label="Script",
            model_type=ModelType.LLM,
            features=[
                ModelFeature.TOOL_CALL,
                ModelFeature.MULTI_TOOL_CALL,
                ModelFeature.STREAM_TOOL_CALL,
            ],
            model_properties=_LLM_PROPERTIES,
            parameter_rules=[_SCRIPT_RULE, MAX_TOKENS_RULE],
            pricing=_LLM_PRICING,
        ),
        ModelSchema(
            model=JSON,
            label="JSON",
            model_type=ModelType.LLM,
            features=[ModelFeature.STRUCTURED_OUTPUT],
            model_properties=_LLM_PROPERTIES,
            parameter_rules=_JSON_RULES,
            pricing=_LLM_PRICING,
        ),
        ModelSchema(
            model=EMBEDDING,
            label="Fake embedding",
            model_type=ModelType.TEXT_EMBEDDING,
            model_properties={"context_size": 8192, "max_chunks": 64, "dimensions": DIMENSION},
            pricing=_EMBEDDING_PRICING,
        ),
        ModelSchema(
            model=RERANK,
            label="Fake rerank",
            model_type=ModelType.RERANK,
            model_properties={"context_size": 8192},
        ),
        ModelSchema(
            model=TTS,
            label="Fake text to speech",
            model_type=ModelType.TTS,
            model_properties={
                "default_voice": "default",
                "voices": [{"mode": "default", "name": "Default", "language": ["en-US"]}],
                "word_limit": 3500,
                "audio_type": "wav",
                "max_workers": 1,
            },
        ),
        ModelSchema(
            model=SPEECH2TEXT,
            label="Fake speech to text",
            model_type=ModelType.SPEECH2TEXT,
            model_properties={"file_upload_limit": 25, "supported_file_extensions": "wav,mp3,m4a,ogg,webm,flac"},
        ),
        ModelSchema(
            model=MODERATION,
            label="Fake moderation",
            model_type=ModelType.MODERATION,
            model_properties={"max_chunks": 32, "max_characters_per_chunk": 2000},
        ),
    ],
))
