"""treadle_sdk.parameter_rules: Dify's parameter rule templates, and checking call parameters."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.parameter_rules import PARAMETER_RULE_TEMPLATES, check_parameters, expand_rule, with_templates
from treadle_sdk.schemas import ModelProviderSchema, ModelSchema, ModelType, ParameterRule


def test_a_rule_naming_a_template_takes_its_fields() -> None:
    """PLUG-MODEL-PARAM-RULE: name and use_template alone give the template's label, type and bounds."""
    rule = expand_rule(ParameterRule(name="temperature", use_template="temperature"))
    assert (rule.name, rule.type, rule.default, rule.min, rule.max, rule.precision) == (
        "temperature", "float", 0.0, 0.0, 1.0, 2)
    assert rule.label == {"en_US": "Temperature", "zh_Hans": "温度"}
    assert rule.help is not None and rule.help["en_US"]
    max_tokens = expand_rule(ParameterRule(name="max_tokens", use_template="max_tokens"))
    assert (max_tokens.type, max_tokens.default, max_tokens.min, max_tokens.max) == ("int", 64, 1, 2048)


def test_fields_the_rule_sets_override_the_template() -> None:
    """Explicit keys win, even an explicit None (no upper bound)."""
    rule = expand_rule(ParameterRule(name="max_tokens_to_sample", use_template="max_tokens", max=None, default=512,
                                     required=True, label="Max output"))
    assert (rule.name, rule.type, rule.max, rule.default, rule.required, rule.min) == (
        "max_tokens_to_sample", "int", None, 512, True, 1)
    assert rule.label == {"en_US": "Max output"}


def test_every_template_makes_a_valid_rule() -> None:
    for name in PARAMETER_RULE_TEMPLATES:
        assert expand_rule(ParameterRule(name=name, use_template=name)).use_template == name
    assert {"temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "max_tokens",
            "response_format", "json_schema"} <= set(PARAMETER_RULE_TEMPLATES)


def test_a_rule_without_a_template_is_unchanged() -> None:
    rule = ParameterRule(name="seed", type="int")
    assert expand_rule(rule) is rule


def test_an_unknown_template_is_named_in_the_error() -> None:
    schema = ModelProviderSchema(name="p", label="P", supported_model_types=[ModelType.LLM], models=[
        ModelSchema(model="m", model_type=ModelType.LLM, parameter_rules=[
            ParameterRule(name="temperature", use_template="temperature"),
            ParameterRule(name="x", use_template="warmth")])])
    with pytest.raises(ValueError, match=r"model 'm'\[1\]: rule 'x' uses template 'warmth', which does not exist"):
        with_templates(schema)


def test_with_templates_expands_every_model() -> None:
    schema = ModelProviderSchema(name="p", label="P", supported_model_types=[ModelType.LLM], models=[
        ModelSchema(model=name, model_type=ModelType.LLM,
                    parameter_rules=[ParameterRule(name="top_p", use_template="top_p")]) for name in ("a", "b")])
    expanded = with_templates(schema)
    assert [m.parameter_rules[0].label for m in expanded.models] == [{"en_US": "Top P"}] * 2
    assert schema.models[0].parameter_rules[0].label is None  # the original is left alone


RULES = [
    ParameterRule(name="temperature", use_template="temperature"),
    ParameterRule(name="max_tokens_to_sample", use_template="max_tokens", required=True, default=256, max=4096),
    ParameterRule(name="stream_usage", type="boolean"),
    ParameterRule(name="response_format", use_template="response_format"),
    ParameterRule(name="json_schema", use_template="json_schema"),
]


def test_check_parameters_keeps_good_values_and_fills_required_defaults() -> None:
    assert check_parameters(RULES, {"temperature": 0.7, "stream_usage": True, "response_format": "JSON",
                                    "json_schema": "{}", "user_tag": "x"}) == {
        "temperature": 0.7, "max_tokens_to_sample": 256, "stream_usage": True, "response_format": "JSON",
        "json_schema": "{}"}


def test_check_parameters_reads_a_parameter_under_its_template_name() -> None:
    assert check_parameters(RULES, {"max_tokens": 100.0}) == {"max_tokens_to_sample": 100}


def test_check_parameters_may_keep_unknown_parameters() -> None:
    assert check_parameters(RULES, {"max_tokens": 10, "seed": 3}, keep_unknown=True) == {
        "max_tokens_to_sample": 10, "seed": 3}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"temperature": 1.5}, "model_parameters.temperature must be at most 1, not 1.5"),
        ({"temperature": -0.1}, "model_parameters.temperature must be at least 0, not -0.1"),
        ({"temperature": 0.123}, "model_parameters.temperature may have at most 2 decimal places"),
        ({"temperature": "hot"}, "model_parameters.temperature must be a number, not 'hot'"),
        ({"temperature": float("nan")}, "model_parameters.temperature must be a number"),
        ({"max_tokens_to_sample": 2.5}, "model_parameters.max_tokens_to_sample must be a whole number, not 2.5"),
        ({"max_tokens_to_sample": 5000}, "model_parameters.max_tokens_to_sample must be at most 4096"),
        ({"max_tokens_to_sample": False}, "model_parameters.max_tokens_to_sample must be a whole number"),
        ({"stream_usage": "yes"}, "model_parameters.stream_usage must be true or false"),
        ({"response_format": "YAML"}, "model_parameters.response_format must be one of 'JSON', 'XML', not 'YAML'"),
        ({"json_schema": {"type": "object"}}, "model_parameters.json_schema must be text, not dict"),
    ],
)
def test_check_parameters_names_the_parameter_that_is_wrong(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        check_parameters(RULES, parameters)
    assert message in caught.value.message
    assert caught.value.details["field"] == f"model_parameters.{next(iter(parameters))}"


def test_a_required_parameter_without_a_default_must_be_given() -> None:
    rules = [ParameterRule(name="voice", type="string", required=True)]
    with pytest.raises(PluginInvalidArgument, match=r"model_parameters\.voice is required"):
        check_parameters(rules, {})
