"""Follow-up suggestions (FEAT-FOLLOWUP): after an answer, three questions the user might ask next,
written by the workspace's system reasoning model from the conversation so far."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from treadle_sdk.context import KernelClient

from .system_model import ask_system_model

__all__ = ["FOLLOW_UP_COUNT", "FOLLOW_UP_INSTRUCTION", "SuggestedQuestions", "parse_questions"]

FOLLOW_UP_COUNT = 3
#: What the model is asked, after the conversation (the shape Dify's prompt has: the turns as
#: ``Human:``/``Assistant:`` lines, then the ask for a JSON array of three short questions).
FOLLOW_UP_INSTRUCTION = (
    "Suggest the three questions the human is most likely to ask next, each shorter than 20 characters.\n"
    "Write them in the language of the assistant's last answer.\n"
    "Answer with a JSON array of three strings and nothing else, like this:\n"
    '["question1","question2","question3"]\n'
)
#: The model's settings for the call: short, and as predictable as the model allows.
_PARAMETERS = {"max_tokens": 256, "temperature": 0}
_ARRAY = re.compile(r"\[.*?\]", re.DOTALL)
#: The conversation text the prompt keeps (its end, where the last answer is).
_MAX_HISTORY_CHARS = 3000


def parse_questions(text: str) -> list[str]:
    """The questions in a model's answer: the first JSON array of strings in it, at most three
    (none when there is no such array)."""
    for match in _ARRAY.finditer(text):
        try:
            found = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(found, list):
            questions = [item.strip() for item in found if isinstance(item, str) and item.strip()]
            return questions[:FOLLOW_UP_COUNT]
    return []


class SuggestedQuestions:
    """Writes follow-up questions with the kernel's system reasoning model."""

    def __init__(self, kernel: KernelClient) -> None:
        self.kernel = kernel

    @staticmethod
    def prompt(turns: Sequence[Mapping[str, Any]]) -> str:
        """The prompt for a conversation's turns (``{"query", "answer"}``, oldest first)."""
        lines = []
        for turn in turns:
            lines.append(f"Human: {turn.get('query') or ''}")
            lines.append(f"Assistant: {turn.get('answer') or ''}")
        history = "\n".join(lines)[-_MAX_HISTORY_CHARS:]
        return f"{history}\n\n{FOLLOW_UP_INSTRUCTION}"

    async def suggest(self, turns: Sequence[Mapping[str, Any]]) -> list[str]:
        """Up to three questions to follow the last turn; none when the workspace has no default
        LLM or its answer holds no list of questions."""
        if not turns:
            return []
        answer = await ask_system_model(self.kernel, self.prompt(turns), _PARAMETERS)
        return [] if answer is None else parse_questions(answer)
