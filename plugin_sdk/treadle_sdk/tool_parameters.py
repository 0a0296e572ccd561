"""Declaring tool parameters and refusing bad values: what tool providers write for every tool.

The builders make a :class:`~treadle_sdk.schemas.ToolParameter` of one type whose description is
shown to people and to the model alike (Dify's ``human_description`` and ``llm_description``).
:func:`invalid_parameter` is the error a tool raises for a value that passed
:func:`~treadle_sdk.extensions.validate_tool_parameters` but that it still cannot use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import PluginInvalidArgument
from .schemas import ToolParameter, ToolParameterForm, ToolParameterOption, ToolParameterType

__all__ = [
    "boolean_parameter",
    "invalid_parameter",
    "number_parameter",
    "select_parameter",
    "string_parameter",
]


def string_parameter(
    name: str,
    label: str,
    description: str,
    *,
    required: bool = False,
    form: ToolParameterForm = ToolParameterForm.LLM,
    default: str | None = None,
    placeholder: str | None = None,
) -> ToolParameter:
    """A ``string`` parameter."""
    return ToolParameter(
        name=name,
        type=ToolParameterType.STRING,
        label=label,
        required=required,
        form=form,
        default=default,
        placeholder=placeholder,
        human_description=description,
        llm_description=description,
    )


def number_parameter(
    name: str,
    label: str,
    description: str,
    *,
    required: bool = False,
    default: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    precision: int | None = None,
) -> ToolParameter:
    """A ``number`` parameter within ``[minimum, maximum]``; ``precision=0`` makes it a whole number."""
    return ToolParameter(
        name=name,
        type=ToolParameterType.NUMBER,
        label=label,
        required=required,
        default=default,
        min=minimum,
        max=maximum,
        precision=precision,
        human_description=description,
        llm_description=description,
    )


def boolean_parameter(name: str, label: str, description: str, *, default: bool) -> ToolParameter:
    """A ``boolean`` setting the user presets in the tool's form."""
    return ToolParameter(
        name=name,
        type=ToolParameterType.BOOLEAN,
        label=label,
        form=ToolParameterForm.FORM,
        default=default,
        human_description=description,
        llm_description=description,
    )


def select_parameter(
    name: str, label: str, description: str, options: Mapping[str, str], *, default: str
) -> ToolParameter:
    """A ``select`` setting the user presets in the tool's form; ``options`` maps values to captions.
    The model's description lists the values."""
    return ToolParameter(
        name=name,
        type=ToolParameterType.SELECT,
        label=label,
        form=ToolParameterForm.FORM,
        default=default,
        options=[ToolParameterOption(value=value, label=caption) for value, caption in options.items()],
        human_description=description,
        llm_description=f"{description} One of: {', '.join(options)}.",
    )


def invalid_parameter(parameter: str, message: str, **details: Any) -> PluginInvalidArgument:
    """The error for a bad value of ``parameter``: its name first, then what was wrong
    (``details.parameter`` names it for callers)."""
    return PluginInvalidArgument(f"parameter {parameter!r}: {message}", details={"parameter": parameter, **details})
