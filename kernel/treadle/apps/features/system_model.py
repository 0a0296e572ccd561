"""The workspace's system reasoning model: its default LLM, which app features ask for helper texts
(follow-up questions, conversation names) instead of the app's own model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from treadle_sdk.context import KernelClient
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole

__all__ = ["ask_system_model", "strip_reasoning"]

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """The answer without the ``<think>`` blocks reasoning models put before it."""
    return _THINK.sub("", text).strip()


async def ask_system_model(kernel: KernelClient, prompt: str, parameters: Mapping[str, Any]) -> str | None:
    """The default LLM's answer to ``prompt`` sent as one user message, or None when the workspace
    has no default LLM."""
    model = await kernel.adefault_model("llm")
    if model is None:
        return None
    message = PromptMessage(role=PromptMessageRole.USER, content=prompt)
    parts = [
        chunk.delta.message.content
        async for chunk in kernel.ainvoke_llm(model[0], model[1], [message], model_parameters=parameters, stream=False)
    ]
    return strip_reasoning("".join(parts))
