"""Parameter declarations and checks the text and regex tools share."""

from __future__ import annotations

from typing import Any

from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.schemas import ToolParameter, ToolParameterForm, ToolParameterOption, ToolParameterType

__all__ = [
    "MAX_TEXT_LENGTH",
    "checked_text",
    "choice",
    "flag",
    "invalid",
    "number",
    "text",
    "unescape",
]

#: Longest text a tool takes, in characters.
MAX_TEXT_LENGTH = 10_000_000

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def invalid(parameter: str, message: str, **details: Any) -> PluginInvalidArgument:
    """The error for a bad ``parameter``: its name first, then what was wrong."""
    return PluginInvalidArgument(f"parameter {parameter!r}: {message}", details={"parameter": parameter, **details})


def checked_text(parameters: dict[str, Any], name: str) -> str:
    """The text parameter ``name`` (empty when not given), refused past :data:`MAX_TEXT_LENGTH`."""
    value: str = parameters.get(name, "")
    if len(value) > MAX_TEXT_LENGTH:
        raise invalid(name, f"the text is {len(value)} characters long; the limit is {MAX_TEXT_LENGTH}")
    return value


def unescape(value: str) -> str:
    r"""``\n``, ``\t``, ``\r`` and ``\\`` written out in a form field, as the characters they stand for."""
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_ESCAPES.get(following, "\\" + following))
        else:
            out.append(char)
    return "".join(out)


def text(
    name: str, label: str, description: str, *, required: bool = False, form: bool = False, default: str | None = None
) -> ToolParameter:
    return ToolParameter(
        name=name,
        type=ToolParameterType.STRING,
        label=label,
        required=required,
        default=default,
        form=ToolParameterForm.FORM if form else ToolParameterForm.LLM,
        human_description=description,
        llm_description=description,
    )


def number(
    name: str, label: str, description: str, *, default: int | None = None, low: int | None = None
) -> ToolParameter:
    return ToolParameter(
        name=name,
        type=ToolParameterType.NUMBER,
        label=label,
        default=default,
        min=low,
        precision=0,
        human_description=description,
        llm_description=description,
    )


def flag(name: str, label: str, description: str, *, default: bool) -> ToolParameter:
    return ToolParameter(
        name=name,
        type=ToolParameterType.BOOLEAN,
        label=label,
        form=ToolParameterForm.FORM,
        default=default,
        human_description=description,
        llm_description=description,
    )


def choice(name: str, label: str, description: str, options: dict[str, str], *, default: str) -> ToolParameter:
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
