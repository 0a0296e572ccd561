"""Dify's two pagination styles.

Cursor style (conversations, messages): ``limit`` plus a ``last_id`` / ``first_id`` cursor, answering
``{limit, has_more, data}``. Page style (annotations, logs, feedback): ``page`` plus ``limit``,
answering ``{page, limit, total, has_more, data}``. Cursors order by ``(timestamp, id)``, so rows
created in the same instant are neither skipped nor repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from .conversations import Conversation, Message
from .errors import InvalidPage, NotFound

__all__ = ["CONVERSATION_SORTS", "CursorPage", "Page", "conversations_page", "messages_page", "paginate"]

T = TypeVar("T")

#: The ``sort_by`` values of ``GET /conversations``.
CONVERSATION_SORTS = ("created_at", "-created_at", "updated_at", "-updated_at")


@dataclass(frozen=True)
class CursorPage(Generic[T]):
    """One page of a cursor-style list."""

    data: list[T]
    limit: int
    has_more: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a page-style list; ``total`` counts every row the query matches."""

    data: list[T]
    page: int
    limit: int
    total: int
    has_more: bool


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise InvalidPage("limit", f"must be between 1 and {maximum}, got {limit}")


def _after(column: InstrumentedAttribute[datetime], id_column: InstrumentedAttribute[str],
           value: datetime, row_id: str, *, descending: bool) -> Any:
    if descending:
        return or_(column < value, and_(column == value, id_column < row_id))
    return or_(column > value, and_(column == value, id_column > row_id))


async def conversations_page(
    session: AsyncSession,
    *,
    app_id: str,
    end_user_id: str | None = None,
    account_id: str | None = None,
    last_id: str | None = None,
    limit: int = 20,
    sort_by: str = "-updated_at",
) -> CursorPage[Conversation]:
    """An app's conversations that are not deleted, of one end user or account when given.

    ``last_id`` is the last conversation of the previous page; it must be one of the listed
    conversations, else :class:`NotFound` with Dify's "Last Conversation Not Exists.".
    """
    _check_limit(limit, 100)
    if sort_by not in CONVERSATION_SORTS:
        raise InvalidPage("sort_by", f"must be one of {', '.join(CONVERSATION_SORTS)}, got {sort_by!r}")
    descending = sort_by.startswith("-")
    column: InstrumentedAttribute[datetime] = getattr(Conversation, sort_by.lstrip("-"))
    base = select(Conversation).where(Conversation.app_id == app_id, Conversation.is_deleted.is_(False))
    if end_user_id is not None:
        base = base.where(Conversation.end_user_id == end_user_id)
    if account_id is not None:
        base = base.where(Conversation.from_account_id == account_id)
    query = base
    if last_id is not None:
        last = await session.scalar(base.where(Conversation.id == last_id))
        if last is None:
            raise NotFound("conversation", last_id, "Last Conversation Not Exists.")
        query = query.where(_after(column, Conversation.id, getattr(last, column.key), last.id, descending=descending))
    order = (column.desc(), Conversation.id.desc()) if descending else (column.asc(), Conversation.id.asc())
    rows = list(await session.scalars(query.order_by(*order).limit(limit + 1)))
    return CursorPage(rows[:limit], limit, len(rows) > limit)


async def messages_page(
    session: AsyncSession, *, conversation_id: str, first_id: str | None = None, limit: int = 20
) -> CursorPage[Message]:
    """The newest ``limit`` messages of a conversation older than ``first_id``, oldest first (chat history order).

    ``first_id`` is the first (oldest) message of the page shown so far; an unknown one raises
    :class:`NotFound` with Dify's "First Message Not Exists.".
    """
    _check_limit(limit, 100)
    base = select(Message).where(Message.conversation_id == conversation_id)
    query = base
    if first_id is not None:
        first = await session.scalar(base.where(Message.id == first_id))
        if first is None:
            raise NotFound("message", first_id, "First Message Not Exists.")
        query = query.where(_after(Message.created_at, Message.id, first.created_at, first.id, descending=True))
    rows = list(await session.scalars(query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit + 1)))
    return CursorPage(list(reversed(rows[:limit])), limit, len(rows) > limit)


async def paginate(session: AsyncSession, query: Select[T], *, page: int = 1, limit: int = 20,
                   max_limit: int = 100) -> Page[T]:
    """Page ``page`` (from 1) of ``query``, which must already be ordered."""
    _check_limit(limit, max_limit)
    if page < 1:
        raise InvalidPage("page", f"must be 1 or more, got {page}")
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(await session.scalars(query.offset((page - 1) * limit).limit(limit)))
    return Page(rows, page, limit, total, page * limit < total)
