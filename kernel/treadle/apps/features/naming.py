"""Conversation names (FEAT-CONV-NAME): a short title for a new conversation, written by the
system reasoning model from its first message; the message itself, cut short, when there is no
such model or its answer cannot be read."""

from __future__ import annotations

import json
import re

from treadle_sdk.context import KernelClient

from .system_model import ask_system_model

__all__ = ["MAX_NAME_CHARS", "NAMING_INSTRUCTION", "ConversationNamer", "fallback_name"]

#: The longest name kept (longer ones are cut and end with "...").
MAX_NAME_CHARS = 75
#: The ask (Dify's shape: the model reasons about the message's language and intent, then gives the
#: title as ``"Your Output"`` of a JSON object).
NAMING_INSTRUCTION = (
    "Give the conversation that starts with the message below a title of a few words, in the language "
    "of the message, naming what the user wants.\n"
    'Answer with a JSON object and nothing else: {"Language Type": "...", "Your Reasoning": "...", '
    '"Your Output": "the title"}\n\n'
    "Message:\n"
)
_PARAMETERS = {"max_tokens": 500, "temperature": 1}
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
#: Long messages are sent as their head and tail.
_MAX_QUERY_CHARS = 2000
_HEAD_TAIL_CHARS = 300


def _shorten(name: str, limit: int) -> str:
    name = " ".join(name.split())
    return name if len(name) <= limit else name[:limit].rstrip() + "..."


def fallback_name(query: str) -> str:
    """The name a conversation gets from its first message alone."""
    return _shorten(query, 47) or "New conversation"


class ConversationNamer:
    """Names conversations with the kernel's system reasoning model."""

    def __init__(self, kernel: KernelClient) -> None:
        self.kernel = kernel

    @staticmethod
    def prompt(query: str) -> str:
        if len(query) > _MAX_QUERY_CHARS:
            query = f"{query[:_HEAD_TAIL_CHARS]}...[TRUNCATED]...{query[-_HEAD_TAIL_CHARS:]}"
        return f"{NAMING_INSTRUCTION}{query}\n"

    async def name(self, query: str) -> str:
        """A title for the conversation whose first message is ``query``."""
        answer = await ask_system_model(self.kernel, self.prompt(query), _PARAMETERS)
        title = _title_in(answer) if answer else None
        return _shorten(title, MAX_NAME_CHARS) if title else fallback_name(query)


def _title_in(answer: str) -> str | None:
    match = _OBJECT.search(answer)
    if match is None:
        return None
    try:
        found = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    title = found.get("Your Output") if isinstance(found, dict) else None
    return title.strip() if isinstance(title, str) and title.strip() else None
