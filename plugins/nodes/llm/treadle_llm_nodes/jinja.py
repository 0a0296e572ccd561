"""Jinja2 prompts (``edition_type: jinja2``), rendered in the SDK's sandbox
(:class:`~treadle_sdk.jinja_sandbox.JinjaSandbox`) with the limits of a prompt.

The nodes run on the kernel's event loop, so a prompt renders in a worker thread, stops after
:data:`TIME_LIMIT` seconds and when its text grows past :data:`MAX_LENGTH` characters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from jinja2 import Template
from treadle_sdk import jinja_sandbox

__all__ = ["MAX_LENGTH", "TIME_LIMIT", "render"]

#: The longest text a prompt template may produce.
MAX_LENGTH = 1_000_000
#: How long one render may take, in seconds.
TIME_LIMIT = 5.0


async def render(template: Template, variables: Mapping[str, Any], where: str, seconds: float = TIME_LIMIT) -> str:
    """Render a prompt ``template`` with ``variables``; failures are :class:`~treadle_sdk.nodes.NodeRunError`
    naming ``where`` (the prompt's place in the node's data)."""
    return await asyncio.to_thread(
        jinja_sandbox.render,
        template,
        variables,
        seconds=seconds,
        max_length=MAX_LENGTH,
        subject=f"{where}: the Jinja2 prompt",
        too_long_error="TemplateError",
    )
