"""Parameter checks the text and regex tools share."""

from __future__ import annotations

from typing import Any

from treadle_sdk.tool_parameters import invalid_parameter

__all__ = ["MAX_TEXT_LENGTH", "checked_text", "unescape"]

#: Longest text a tool takes, in characters.
MAX_TEXT_LENGTH = 10_000_000

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def checked_text(parameters: dict[str, Any], name: str) -> str:
    """The text parameter ``name`` (empty when not given), refused past :data:`MAX_TEXT_LENGTH`."""
    value: str = parameters.get(name, "")
    if len(value) > MAX_TEXT_LENGTH:
        raise invalid_parameter(name, f"the text is {len(value)} characters long; the limit is {MAX_TEXT_LENGTH}")
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
