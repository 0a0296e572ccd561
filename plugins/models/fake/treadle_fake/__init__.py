"""The fake model provider: deterministic, scriptable models for tests and demos.

No network and no weights: ``echo`` repeats the last user message, ``script`` replays a script of
replies (reasoning, text and tool calls) chosen by turn, ``json`` answers JSON that fits a schema,
and there is a model of every other type: hashed embeddings, word-overlap rerank, text to speech as
WAV files that speech to text reads back, and keyword moderation. See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ModelProvider
from treadle_sdk.hookspecs import hookimpl

from .provider import FakeModelProvider

__all__ = ["FakeModelProvider", "register_models"]


@hookimpl
def register_models(register: Callable[[ModelProvider], None]) -> None:
    """Register the ``fake`` model provider."""
    register(FakeModelProvider())
