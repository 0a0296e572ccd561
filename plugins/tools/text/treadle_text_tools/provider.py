"""The ``text`` and ``regex`` tool providers."""

from __future__ import annotations

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.schemas import ToolProviderSchema

from .regex_tools import RegexExtractTool, RegexMatchTool, RegexReplaceTool
from .text_tools import ChangeCaseTool, CountTool, JoinTool, ReplaceTool, SplitTool, SubstringTool, TrimTool

__all__ = ["RegexToolProvider", "TextToolProvider"]


class TextToolProvider(ToolProvider):
    """The ``text`` provider. Texts may be megabytes long and expressions run up to their time limit,
    so its tools run in worker threads (the default)."""

    schema = ToolProviderSchema(
        name="text",
        author="treadle",
        label="Text",
        description="Text utilities: count, change case, trim, replace, split, join, substring, regular expressions.",
        tags=["utilities"],
    )

    def __init__(self) -> None:
        self.tools = [
            CountTool(),
            ChangeCaseTool(),
            TrimTool(),
            ReplaceTool(),
            SplitTool(),
            JoinTool(),
            SubstringTool(),
            RegexExtractTool(),
            RegexReplaceTool(),
            RegexMatchTool(),
        ]


class RegexToolProvider(ToolProvider):
    """The ``regex`` provider: Dify's ``regex_extract`` under the provider name Dify DSL files use."""

    schema = ToolProviderSchema(
        name="regex",
        author="treadle",
        label="Regex",
        description="Extract the matches of a regular expression from a text.",
        tags=["utilities"],
    )

    def __init__(self) -> None:
        self.tools = [RegexExtractTool()]
