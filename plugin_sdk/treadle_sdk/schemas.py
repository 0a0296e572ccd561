"""The schemas plugins register: what each extension is, what it accepts, what it offers.

These are the descriptions the kernel shows, validates DSL and API input against, and sends across
the wire in Describe. Field names follow Dify's plugin manifest formats (PLUG-MODEL-*, PLUG-TOOL-*)
so that Dify provider and tool YAML maps onto them one to one.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

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
    "OAuthSchema",
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
    #: Follows a ``json_schema`` model parameter natively (the LLM node's structured output).
    STRUCTURED_OUTPUT = "structured-output"


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
    """PLUG-TOOL-SCHEMA parameter ``type``: what a value must be (and what the editor shows for it)."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    SELECT = "select"
    SECRET_INPUT = "secret-input"
    #: A file: an object as the workflow's file variables hold them (``url`` / ``related_id`` ...).
    FILE = "file"
    FILES = "files"
    #: ``{"provider", "model", "model_type"?, "mode"?, "completion_params"?}``; ``scope`` is the model type.
    MODEL_SELECTOR = "model-selector"
    #: ``{"app_id", "inputs"?, "files"?}``; ``scope`` is ``all``, ``chat``, ``workflow`` or ``completion``.
    APP_SELECTOR = "app-selector"
    #: A list of tools an agent strategy may call (Dify's ``array[tools]``).
    TOOLS_SELECTOR = "array[tools]"
    #: JSON values (MCP tools): an object, a list, or anything.
    OBJECT = "object"
    ARRAY = "array"
    ANY = "any"


class ToolParameterForm(enum.StrEnum):
    """``llm``: the model (or a workflow input) supplies it; ``form``: preset by the user."""

    LLM = "llm"
    FORM = "form"


def _option_value(value: Any) -> Any:
    # Dify's YAML writes boolean options unquoted (``value: true``).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class ToolParameterOption(_Schema):
    value: Annotated[str, BeforeValidator(_option_value)]
    label: I18nText


class ToolParameter(_Schema):
    """One parameter of a tool (PLUG-TOOL-SCHEMA ``parameters[]``).

    ``options`` belong to ``select`` parameters, ``min``/``max``/``precision`` to ``number`` ones;
    a ``default`` must itself be a valid value. Inconsistent declarations are refused when the schema
    is built, so a plugin with one fails to load instead of failing on a call.
    """

    name: str = Field(min_length=1)
    type: ToolParameterType
    label: I18nText
    form: ToolParameterForm = ToolParameterForm.LLM
    required: bool = False
    default: Any = None
    options: list[ToolParameterOption] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    #: Decimal places a ``number`` keeps (it is rounded to them); 0 makes it a whole number.
    precision: int | None = Field(default=None, ge=0)
    #: ``model-selector``: the model type offered (``llm``, ``text-embedding`` ...); ``app-selector``:
    #: which apps (``all``, ``chat``, ``workflow``, ``completion``).
    scope: str | None = None
    human_description: I18nText | None = None
    llm_description: str | None = None
    placeholder: I18nText | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ToolParameter:
        where = f"parameter {self.name!r}"
        if self.options and self.type != ToolParameterType.SELECT:
            raise ValueError(f"{where}: only 'select' parameters have options (this one is {self.type.value!r})")
        if self.type == ToolParameterType.SELECT and not self.options:
            raise ValueError(f"{where}: a 'select' parameter needs options")
        bounds = (self.min, self.max, self.precision)
        if any(b is not None for b in bounds) and self.type != ToolParameterType.NUMBER:
            raise ValueError(f"{where}: only 'number' parameters have min, max or precision")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{where}: min ({self.min:g}) is greater than max ({self.max:g})")
        if self.type == ToolParameterType.SELECT and self.default not in (None, ""):
            values = [o.value for o in self.options]
            if _option_value(self.default) not in values:
                raise ValueError(f"{where}: the default {self.default!r} is not one of the options {values}")
        if self.type == ToolParameterType.NUMBER and self.default is not None:
            if isinstance(self.default, bool) or not isinstance(self.default, int | float):
                raise ValueError(f"{where}: the default of a number must be a number, not {self.default!r}")
            if (self.min is not None and self.default < self.min) or (
                self.max is not None and self.default > self.max
            ):
                raise ValueError(f"{where}: the default {self.default} is outside min/max")
        if self.type == ToolParameterType.BOOLEAN and self.default is not None and not isinstance(self.default, bool):
            raise ValueError(f"{where}: the default of a boolean must be true or false, not {self.default!r}")
        return self


class ToolSchema(_Named):
    """One tool: what it does, the parameters it takes and the variables it outputs.

    ``output_schema`` declares the variables the tool sets with variable messages, as a JSON Schema
    whose root is ``{"type": "object", "properties": {...}}`` (PLUG-TOOL-OUTPUT); the workflow editor
    offers them, and one declared but never sent is ``None``.
    """

    label: I18nText
    description: I18nText
    llm_description: str = ""
    parameters: list[ToolParameter] = Field(default_factory=list)
    output_schema: dict[str, Any] | None = None

    @field_validator("parameters")
    @classmethod
    def _distinct_parameters(cls, value: list[ToolParameter]) -> list[ToolParameter]:
        names = [p.name for p in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"parameter name(s) {', '.join(map(repr, twice))} appear more than once")
        return value

    @field_validator("output_schema")
    @classmethod
    def _object_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        if value.get("type") != "object":
            raise ValueError(f"the root of an output schema must have type 'object', not {value.get('type')!r}")
        if not isinstance(value.get("properties", {}), dict):
            raise ValueError("the 'properties' of an output schema must be an object")
        return value


class ProviderConfig(_Schema):
    """A setting or credential of a tool provider, or a field of its OAuth schemas (PLUG-PROVIDERCONFIG)."""

    name: str
    #: Dify's OAuth schemas often leave it out; the editor then shows ``name``.
    label: I18nText | None = None
    type: str = Field(
        pattern="^(secret-input|text-input|select|boolean|model-selector|app-selector|tool-selector)$"
    )
    required: bool = False
    default: float | int | str | None = None
    options: list[ToolParameterOption] = Field(default_factory=list)
    helper: I18nText | None = None
    url: str | None = None
    placeholder: I18nText | None = None


class OAuthSchema(_Schema):
    """How a tool provider authorizes with OAuth 2 (PLUG-TOOL-OAUTH).

    ``client_schema`` is what an administrator enters once to make the workspace an OAuth client of the
    service (``client_id``, ``client_secret``); ``credentials_schema`` is what one user's authorization
    produces (``access_token``, ``refresh_token`` ...), which the kernel stores and hands to the tools
    as their credentials. A provider may offer OAuth beside plain ``credentials`` (API keys).
    """

    client_schema: list[ProviderConfig] = Field(min_length=1)
    credentials_schema: list[ProviderConfig] = Field(min_length=1)


class ToolProviderSchema(_Named):
    """A tool provider: identity, credentials, and its tools (PLUG-TOOL-PROVIDER-YAML)."""

    author: str = ""
    label: I18nText
    description: I18nText
    icon: str | None = None
    tags: list[str] = Field(default_factory=list)
    credentials: list[ProviderConfig] = Field(default_factory=list)
    #: Set when the provider implements the OAuth operations (see :class:`OAuthSchema`).
    oauth_schema: OAuthSchema | None = None
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
