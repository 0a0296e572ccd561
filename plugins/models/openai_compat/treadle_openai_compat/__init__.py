"""The ``openai_compat`` model provider: any server that speaks OpenAI's HTTP API.

Chat and completion models (streaming, reasoning, tool calls, vision, JSON-schema output),
embeddings, rerank, text to speech, speech to text and moderation over ``httpx``; see README.md for
credentials and what each operation sends.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ModelProvider
from treadle_sdk.hookspecs import hookimpl

from .provider import OpenAICompatProvider

__all__ = ["OpenAICompatProvider", "register_models"]


@hookimpl
def register_models(register: Callable[[ModelProvider], None]) -> None:
    """Register the ``openai_compat`` model provider."""
    register(OpenAICompatProvider())
