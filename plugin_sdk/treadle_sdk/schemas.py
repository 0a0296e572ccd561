"""The schemas plugins register: what each extension is, what it accepts, what it offers.

These are the descriptions the kernel shows, validates DSL and API input against, and sends across
the wire in Describe. Field names follow Dify's plugin manifest formats (PLUG-MODEL-*, PLUG-TOOL-*)
so that Dify provider and tool YAML maps onto them one to one.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "NAME_PATTERN",
    "CredentialFormSchema",
    "I18nText",
    "ModelFeature",
    "ModelPricing",
    "ModelProviderSchema",
    "ModelSchema",
    "ModelType",
    "NodeTypeSchema",
    "ParameterRule",
    "ProviderConfig",
    "StorageSchema",
    "ToolParameter",
    "ToolParameterForm",
    "ToolParameterOption",
    "ToolParameterType",
    "ToolProviderSchema",
    "ToolSchema",
    "TriggerSchema",
    "VectorStoreSchema",
]

#: Names of extensions, tools, models' providers and plugins: what Dify allows for plugin names.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")


def _i18n(value: Any) -> Any:
    if isinstance(value, str):
        return {"en_US": value}
    return value


#: A text in several languages, keyed ``en_US``, ``zh_Hans``, ``ja_JP``, ``pt_BR`` (PLUG-I18N).
#: A plain string is taken as ``en_US``.
I18nText = Annotated[dict[str, str], BeforeValidator(_i18n)]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Named(_Schema):
    name: str

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is not a valid name: use 1-128 letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        return value


# ---------------------------------------------------------------------------------------------
# Models (PLUG-MODEL-*)
# ---------------------------------------------------------------------------------------------


class ModelType(enum.StrEnum):
    """PLUG-MODEL-TYPES."""

    LLM = "llm"
    TEXT_EMBEDDING = "text-embedding"
    RERANK = "rerank"
    SPEECH2TEXT = "speech2text"
    TTS = "tts"
    MODERATION = "moderation"


class ModelFeature(enum.StrEnum):
    """PLUG-MODEL-ENTITY ``features``."""

    AGENT_THOUGHT = "agent-thought"
    VISION = "vision"
    TOOL_CALL = "tool-call"
    MULTI_TOOL_CALL = "multi-tool-call"
    STREAM_TOOL_CALL = "stream-tool-call"
    DOCUMENT = "document"


class ParameterRule(_Schema):
    """One tunable model parameter (PLUG-MODEL-PARAM-RULE)."""

    name: str
    use_template: str | None = None
    label: I18nText | None = None
    type: str = Field(default="float", pattern="^(int|float|string|boolean|text)$")
    help: I18nText | None = None
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    options: list[str] = Field(default_factory=list)


class ModelPricing(_Schema):
    """PLUG-MODEL-PRICING: prices per ``unit`` tokens, as decimal strings."""

    input: str
    output: str | None = None
    unit: str = "0.000001"
    currency: str = "USD"


class ModelSchema(_Schema):
    """One model a provider offers (PLUG-MODEL-ENTITY)."""

    model: str
    label: I18nText | None = None
    model_type: ModelType
    features: list[ModelFeature] = Field(default_factory=list)
    model_properties: dict[str, Any] = Field(default_factory=dict)
    parameter_rules: list[ParameterRule] = Field(default_factory=list)
    pricing: ModelPricing | None = None
    deprecated: bool = False


class CredentialFormSchema(_Schema):
    """One credential field of a provider or model (PLUG-MODEL-CREDFORM)."""

    variable: str
    label: I18nText
    type: str = Field(pattern="^(text-input|secret-input|select|radio|switch)$")
    required: bool = False
    default: Any = None
    options: list[dict[str, Any]] = Field(default_factory=list)
    placeholder: I18nText | None = None
    max_length: int = 0
    show_on: list[dict[str, Any]] = Field(default_factory=list)


class ModelProviderSchema(_Named):
    """A model provider: its credentials form and predefined models (PLUG-MODEL-PROVIDER-YAML)."""

    label: I18nText
    description: I18nText | None = None
    icon_small: str | None = None
    icon_large: str | None = None
    supported_model_types: list[ModelType]
    configurate_methods: list[str] = Field(default_factory=lambda: ["predefined-model"])
    provider_credential_schema: list[CredentialFormSchema] = Field(default_factory=list)
    model_credential_schema: list[CredentialFormSchema] = Field(default_factory=list)
    models: list[ModelSchema] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Tools (PLUG-TOOL-*)
# ---------------------------------------------------------------------------------------------


class ToolParameterType(enum.StrEnum):
    """PLUG-TOOL-SCHEMA parameter ``type``."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    SELECT = "select"
    SECRET_INPUT = "secret-input"
    FILE = "file"
    FILES = "files"
    MODEL_SELECTOR = "model-selector"
    APP_SELECTOR = "app-selector"


class ToolParameterForm(enum.StrEnum):
    """``llm``: the model (or a workflow input) supplies it; ``form``: preset by the user."""

    LLM = "llm"
    FORM = "form"


class ToolParameterOption(_Schema):
    value: str
    label: I18nText


class ToolParameter(_Schema):
    """One parameter of a tool (PLUG-TOOL-SCHEMA ``parameters[]``)."""

    name: str
    type: ToolParameterType
    label: I18nText
    form: ToolParameterForm = ToolParameterForm.LLM
    required: bool = False
    default: Any = None
    options: list[ToolParameterOption] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    human_description: I18nText | None = None
    llm_description: str | None = None
    placeholder: I18nText | None = None


class ToolSchema(_Named):
    """One tool: what it does and the parameters it takes."""

    label: I18nText
    description: I18nText
    llm_description: str = ""
    parameters: list[ToolParameter] = Field(default_factory=list)
    output_schema: dict[str, Any] | None = None


class ProviderConfig(_Schema):
    """A setting or credential of a tool provider (PLUG-PROVIDERCONFIG)."""

    name: str
    label: I18nText
    type: str = Field(
        pattern="^(secret-input|text-input|select|boolean|model-selector|app-selector|tool-selector)$"
    )
    required: bool = False
    default: float | int | str | None = None
    options: list[ToolParameterOption] = Field(default_factory=list)
    helper: I18nText | None = None
    url: str | None = None
    placeholder: I18nText | None = None


class ToolProviderSchema(_Named):
    """A tool provider: identity, credentials, and its tools (PLUG-TOOL-PROVIDER-YAML)."""

    author: str = ""
    label: I18nText
    description: I18nText
    icon: str | None = None
    tags: list[str] = Field(default_factory=list)
    credentials: list[ProviderConfig] = Field(default_factory=list)
    tools: list[ToolSchema] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Node types, vector stores, storage, triggers
# ---------------------------------------------------------------------------------------------


class NodeTypeSchema(_Named):
    """A workflow node type: ``name`` is the DSL ``data.type`` it implements (``if-else``, ``code``)."""

    label: I18nText
    description: I18nText | None = None
    versions: list[str] = Field(default_factory=lambda: ["1"])
    config_schema: dict[str, Any] = Field(default_factory=dict)
    #: True for containers (iteration, loop) whose children the engine schedules.
    container: bool = False


class VectorStoreSchema(_Named):
    """A vector store backend for knowledge bases."""

    label: I18nText
    description: I18nText | None = None
    config_schema: dict[str, Any] = Field(default_factory=dict)
    supports_metadata_filter: bool = False
    supports_full_text: bool = False


class StorageSchema(_Named):
    """A file storage backend (uploads, generated files, indexes)."""

    label: I18nText
    description: I18nText | None = None
    config_schema: dict[str, Any] = Field(default_factory=dict)


class TriggerSchema(_Named):
    """A trigger: something outside that starts workflow runs (a schedule, a webhook, an event)."""

    label: I18nText
    description: I18nText | None = None
    config_schema: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] = Field(default_factory=dict)
