"""The Anthropic model provider: Claude models through the Messages API.

Streaming answers, tool use, vision and extended thinking over one reused ``httpx.AsyncClient``
per event loop, so calls never block the plugin host. See README.md for credentials and models.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ModelProvider
from treadle_sdk.hookspecs import hookimpl

from .provider import AnthropicModelProvider

__all__ = ["AnthropicModelProvider", "register_models"]


@hookimpl
def register_models(register: Callable[[ModelProvider], None]) -> None:
    """Register the ``anthropic`` model provider."""
    register(AnthropicModelProvider())
