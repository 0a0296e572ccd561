"""Text tools: the ``text`` provider (counting, case, trimming, replacing, splitting, joining,
substrings and regular expressions) and a ``regex`` provider with Dify's ``regex_extract``."""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .provider import RegexToolProvider, TextToolProvider
from .regex_tools import RegexExtractTool, RegexMatchTool, RegexReplaceTool, compile_expression
from .text_tools import (
    ChangeCaseTool,
    CountTool,
    JoinTool,
    ReplaceTool,
    SplitTool,
    SubstringTool,
    TrimTool,
    change_case,
)

__all__ = [
    "ChangeCaseTool",
    "CountTool",
    "JoinTool",
    "RegexExtractTool",
    "RegexMatchTool",
    "RegexReplaceTool",
    "RegexToolProvider",
    "ReplaceTool",
    "SplitTool",
    "SubstringTool",
    "TextToolProvider",
    "TrimTool",
    "change_case",
    "compile_expression",
    "register_tools",
]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``text`` and ``regex`` tool providers."""
    register(TextToolProvider())
    register(RegexToolProvider())
