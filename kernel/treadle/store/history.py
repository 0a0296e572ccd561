"""Conversation memory (:class:`treadle.plugins.kernel_services.ConversationHistory`) read from ``messages``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .apps import App
from .conversations import Conversation, Message
from .database import Database

__all__ = ["SqlConversationHistory"]


class SqlConversationHistory:
    """The finished turns of a conversation, for memory windows.

    A turn is finished when its message ended normally with an answer: messages still streaming
    (empty answer), paused or failed are left out, as Dify's memory leaves them out. A conversation
    of another workspace's app has no history here, whatever its id.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def history(self, tenant_id: str, conversation_id: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` finished turns, oldest first, as ``{"query", "answer", "files"}``
        (``files`` are the files the user sent with the query)."""
        if limit <= 0:
            return []
        query = (
            select(Message.query, Message.answer, Message.files)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(App, App.id == Conversation.app_id)
            .where(
                App.tenant_id == tenant_id,
                Conversation.id == conversation_id,
                Conversation.is_deleted.is_(False),
                Message.status == "normal",
                Message.answer != "",
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
        async with self._db.session() as session:
            rows = list(await session.execute(query))
        return [
            {"query": q, "answer": a, "files": [dict(f) for f in files if f.get("belongs_to", "user") == "user"]}
            for q, a, files in reversed(rows)
        ]
