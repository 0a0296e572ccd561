"""Model parameter rules: Dify's templates (``use_template``) and checking call parameters against rules.

A rule that names a template (``temperature``, ``top_p``, ``max_tokens`` ...) takes the template's
label, type, help, default and bounds for every field it leaves unset; fields it sets win
(PLUG-MODEL-PARAM-RULE). Providers expand their schemas once, when they build them, so that every
reader (the console, the kernel's checks, the DSL editor) sees the full rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import PluginInvalidArgument
from .schemas import ModelProviderSchema, ModelSchema, ParameterRule

__all__ = [
    "PARAMETER_RULE_TEMPLATES",
    "check_parameters",
    "expand_rule",
    "expand_rules",
    "with_templates",
]

#: The templates a rule may name in ``use_template``, with Dify's defaults (its
#: ``PARAMETER_RULE_TEMPLATE``); the help texts are ours.
PARAMETER_RULE_TEMPLATES: dict[str, dict[str, Any]] = {
    "temperature": {
        "label": {"en_US": "Temperature", "zh_Hans": "温度"},
        "type": "float",
        "help": {"en_US": "How random the answer is: near 0 the model picks the likeliest words and repeats "
                          "itself; higher values give more varied answers."},
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "top_p": {
        "label": {"en_US": "Top P"},
        "type": "float",
        "help": {"en_US": "Nucleus sampling: the model samples only from the smallest set of words whose "
                          "probabilities add up to this value."},
        "required": False,
        "default": 1.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "top_k": {
        "label": {"en_US": "Top K"},
        "type": "int",
        "help": {"en_US": "Sample each word only from the K likeliest candidates."},
        "required": False,
        "default": 50,
        "min": 1,
        "max": 100,
        "precision": 0,
    },
    "presence_penalty": {
        "label": {"en_US": "Presence Penalty"},
        "type": "float",
        "help": {"en_US": "Penalises words that already appeared, nudging the model towards new topics."},
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "frequency_penalty": {
        "label": {"en_US": "Frequency Penalty"},
        "type": "float",
        "help": {"en_US": "Penalises words by how often they already appeared, making repetition less likely."},
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "max_tokens": {
        "label": {"en_US": "Max Tokens"},
        "type": "int",
        "help": {"en_US": "The most tokens the answer may have; longer answers are cut off."},
        "required": False,
        "default": 64,
        "min": 1,
        "max": 2048,
        "precision": 0,
    },
    "response_format": {
        "label": {"en_US": "Response Format"},
        "type": "string",
        "help": {"en_US": "Ask the model to answer in this format, such as JSON."},
        "required": False,
        "options": ["JSON", "XML"],
    },
    "json_schema": {
        "label": {"en_US": "JSON Schema"},
        "type": "text",
        "help": {"en_US": "A JSON schema the answer must follow."},
        "required": False,
    },
}


def expand_rule(rule: ParameterRule, where: str = "parameter_rules") -> ParameterRule:
    """``rule`` with its template's fields filled in where the rule leaves them unset.

    Raises :class:`ValueError` naming ``where`` when the template does not exist.
    """
    if rule.use_template is None:
        return rule
    template = PARAMETER_RULE_TEMPLATES.get(rule.use_template)
    if template is None:
        raise ValueError(
            f"{where}: rule {rule.name!r} uses template {rule.use_template!r}, which does not exist "
            f"(templates: {', '.join(PARAMETER_RULE_TEMPLATES)})"
        )
    explicit = rule.model_dump(include=rule.model_fields_set)
    return ParameterRule.model_validate({**template, **explicit})


def expand_rules(rules: Sequence[ParameterRule], where: str = "parameter_rules") -> list[ParameterRule]:
    """Every rule of ``rules`` expanded (:func:`expand_rule`)."""
    return [expand_rule(rule, f"{where}[{i}]") for i, rule in enumerate(rules)]


def with_templates(schema: ModelProviderSchema) -> ModelProviderSchema:
    """The provider schema with the parameter rules of every model expanded."""
    models: list[ModelSchema] = [
        model.model_copy(update={"parameter_rules": expand_rules(model.parameter_rules, f"model {model.model!r}")})
        for model in schema.models
    ]
    return schema.model_copy(update={"models": models})


def _number(rule: ParameterRule, value: Any, where: str) -> int | float:
    whole = rule.type == "int" or rule.precision == 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        kind = "a whole number" if whole else "a number"
        raise PluginInvalidArgument(f"{where} must be {kind}, not {value!r}", details={"field": where})
    number: int | float = value
    if whole:
        if number != int(number):
            raise PluginInvalidArgument(f"{where} must be a whole number, not {value!r}", details={"field": where})
        number = int(number)
    elif rule.precision is not None and number != round(number, rule.precision):
        raise PluginInvalidArgument(
            f"{where} may have at most {rule.precision} decimal places, not {value!r}", details={"field": where}
        )
    if rule.min is not None and number < rule.min:
        raise PluginInvalidArgument(
            f"{where} must be at least {rule.min:g}, not {value!r}", details={"field": where, "min": rule.min}
        )
    if rule.max is not None and number > rule.max:
        raise PluginInvalidArgument(
            f"{where} must be at most {rule.max:g}, not {value!r}", details={"field": where, "max": rule.max}
        )
    return number


def _checked(rule: ParameterRule, value: Any, where: str) -> Any:
    if rule.type in ("int", "float"):
        return _number(rule, value, where)
    if rule.type == "boolean":
        if not isinstance(value, bool):
            raise PluginInvalidArgument(f"{where} must be true or false, not {value!r}", details={"field": where})
        return value
    if not isinstance(value, str):
        raise PluginInvalidArgument(f"{where} must be text, not {type(value).__name__}", details={"field": where})
    if rule.type == "string" and rule.options and value not in rule.options:
        raise PluginInvalidArgument(
            f"{where} must be one of {', '.join(map(repr, rule.options))}, not {value!r}",
            details={"field": where, "options": list(rule.options)},
        )
    return value


def check_parameters(
    rules: Sequence[ParameterRule], parameters: Mapping[str, Any], *, keep_unknown: bool = False
) -> dict[str, Any]:
    """The parameters of a model call checked against the model's rules, as Dify checks them.

    Each value must have its rule's type, bounds, precision and options; a required parameter left
    out takes its rule's default. A parameter missing under its own name may be given under its
    template's name (``max_tokens`` for a rule ``max_tokens_to_sample`` using that template).
    Parameters without a rule are dropped unless ``keep_unknown``. Whole-number floats (``3.0``)
    count as whole numbers. Raises :class:`PluginInvalidArgument` whose ``details["field"]`` is
    ``model_parameters.<name>``.
    """
    checked: dict[str, Any] = {}
    ruled: set[str] = set()
    for rule in rules:
        rule = expand_rule(rule)
        ruled.add(rule.name)
        where = f"model_parameters.{rule.name}"
        value = parameters.get(rule.name)
        if rule.use_template:
            ruled.add(rule.use_template)
            if value is None:
                value = parameters.get(rule.use_template)
        if value is None:
            if rule.required and rule.default is not None:
                checked[rule.name] = rule.default
            elif rule.required:
                raise PluginInvalidArgument(f"{where} is required", details={"field": where})
            continue
        checked[rule.name] = _checked(rule, value, where)
    if keep_unknown:
        for name, value in parameters.items():
            if name not in ruled:
                checked[name] = value
    return checked
