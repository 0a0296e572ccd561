"""The fake model provider: deterministic, scriptable models for tests and demos.

No network and no weights: ``echo`` repeats the last user message, ``script`` replays a script of
replies (text and tool calls) chosen by turn, and ``fake-embedding`` hashes texts into unit
vectors. See README.md for the script format.
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
