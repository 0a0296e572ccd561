"""JSON tools: Dify's ``json_process`` provider (``parse``, ``json_insert``, ``json_replace``,
``json_delete``), with JSONPath from jsonpath-ng."""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .provider import JsonDeleteTool, JsonInsertTool, JsonParseTool, JsonProcessToolProvider, JsonReplaceTool

__all__ = [
    "JsonDeleteTool",
    "JsonInsertTool",
    "JsonParseTool",
    "JsonProcessToolProvider",
    "JsonReplaceTool",
    "register_tools",
]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``json_process`` tool provider."""
    register(JsonProcessToolProvider())
