"""Basic tools: the current time in any timezone, and a safe arithmetic calculator.

Registers two tool providers named like Dify's built-ins, ``time`` and ``maths``, so that Dify DSL
files using them resolve here.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .maths_provider import MathsToolProvider
from .time_provider import TimeToolProvider

__all__ = ["MathsToolProvider", "TimeToolProvider", "register_tools"]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``time`` and ``maths`` tool providers."""
    register(TimeToolProvider())
    register(MathsToolProvider())
