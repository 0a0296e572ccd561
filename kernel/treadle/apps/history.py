"""Conversation history kept in memory: the finished turns of each conversation, which the memory
window of llm-family nodes reads (through the Kernel service's ``conversation_history``).

For tests, ``treadle run`` and single-process servers; a server with a database keeps turns in its
message store instead, behind the same :class:`~treadle.plugins.kernel_services.ConversationHistory`
protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MemoryConversationHistory"]


class MemoryConversationHistory:
    """Turns per (tenant, conversation), oldest first. ``append`` records a finished turn;
    ``history`` answers the last ``limit`` of them as ``{"query", "answer", "files"}``."""

    def __init__(self) -> None:
        self._turns: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def append(
        self,
        tenant_id: str,
        conversation_id: str,
        query: str,
        answer: str,
        files: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Record a finished turn: the user's message (and files) and the app's answer."""
        if not conversation_id:
            raise ValueError("a turn needs the id of the conversation it belongs to")
        turn = {"query": query, "answer": answer, "files": [dict(file) for file in files]}
        self._turns.setdefault((tenant_id, conversation_id), []).append(turn)

    async def history(self, tenant_id: str, conversation_id: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` turns of the conversation, oldest first (copies: callers may keep them)."""
        if limit <= 0:
            return []
        turns = self._turns.get((tenant_id, conversation_id), [])[-limit:]
        return [{**turn, "files": [dict(file) for file in turn["files"]]} for turn in turns]

