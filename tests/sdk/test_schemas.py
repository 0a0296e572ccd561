"""The schemas plugins register: names, translated texts, and refusal of what they do not know."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from treadle_sdk.schemas import (
    ModelProviderSchema,
    ModelSchema,
    ModelType,
    ParameterRule,
    ToolParameter,
    ToolProviderSchema,
    ToolSchema,
    TriggerSchema,
    VectorStoreSchema,
)


@pytest.mark.parametrize("name", ["a", "echo", "open-ai", "open_ai", "Tool2", "9lives", "x" * 128])
def test_valid_names_are_accepted(name: str) -> None:
    assert VectorStoreSchema(name=name, label="Store").name == name


@pytest.mark.parametrize(
    "name",
    ["", "-leading-dash", "_leading_underscore", "has space", "dotted.name", "slash/name", "émoji", "x" * 129],
)
def test_invalid_names_are_refused_saying_what_is_allowed(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ToolSchema(name=name, label="T", description="d")
    [error] = caught.value.errors()
    assert error["loc"] == ("name",)
    assert f"{name!r} is not a valid name" in error["msg"]
    assert "1-128 letters, digits, '-' or '_'" in error["msg"]


def test_plain_string_text_is_english() -> None:
    schema = TriggerSchema(name="webhook", label="Webhook", description="Starts a run per request")
    assert schema.label == {"en_US": "Webhook"}
    assert schema.description == {"en_US": "Starts a run per request"}


def test_translated_text_is_kept_as_given() -> None:
    schema = TriggerSchema(name="webhook", label={"en_US": "Webhook", "ja_JP": "ウェブフック"})
    assert schema.label == {"en_US": "Webhook", "ja_JP": "ウェブフック"}


def test_text_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        TriggerSchema(name="webhook", label=["Webhook"])  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"] == ("label",)


def test_nested_texts_are_translated_too() -> None:
    tool = ToolSchema(
        name="weather",
        label="Weather",
        description="Current weather",
        parameters=[ToolParameter(name="city", type="string", label="City", human_description="Which city")],
    )
    assert tool.parameters[0].label == {"en_US": "City"}
    assert tool.parameters[0].human_description == {"en_US": "Which city"}


def test_unknown_field_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as caught:
        ToolProviderSchema(name="acme", label="Acme", description="d", colour="red")  # type: ignore[call-arg]
    [error] = caught.value.errors()
    assert error["loc"] == ("colour",)
    assert error["type"] == "extra_forbidden"
    assert "Extra inputs are not permitted" in error["msg"]


def test_unknown_nested_field_is_refused_with_its_path() -> None:
    with pytest.raises(ValidationError) as caught:
        ModelProviderSchema.model_validate(
            {
                "name": "acme",
                "label": "Acme",
                "supported_model_types": ["llm"],
                "models": [{"model": "m1", "model_type": "llm", "context_size": 8192}],
            }
        )
    [error] = caught.value.errors()
    assert error["loc"] == ("models", 0, "context_size")
    assert error["type"] == "extra_forbidden"


def test_enum_values_are_stored_as_their_wire_strings() -> None:
    model = ModelSchema(model="m1", model_type=ModelType.TEXT_EMBEDDING)
    assert model.model_type == "text-embedding"
    assert model.model_dump(mode="json")["model_type"] == "text-embedding"


def test_unknown_enum_value_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        ModelSchema(model="m1", model_type="image-generation")  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"] == ("model_type",)


def test_parameter_rule_type_is_checked() -> None:
    assert ParameterRule(name="temperature", type="float").type == "float"
    with pytest.raises(ValidationError):
        ParameterRule(name="temperature", type="double")


def test_schemas_are_frozen() -> None:
    schema = VectorStoreSchema(name="memory", label="Memory")
    with pytest.raises(ValidationError):
        schema.name = "other"  # type: ignore[misc]


def test_schema_json_round_trips() -> None:
    schema = ModelProviderSchema(
        name="acme",
        label={"en_US": "Acme", "zh_Hans": "顶点"},
        supported_model_types=[ModelType.LLM],
        models=[ModelSchema(model="m1", model_type="llm", features=["tool-call"])],
    )
    assert ModelProviderSchema.model_validate_json(schema.model_dump_json()) == schema
