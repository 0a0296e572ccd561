"""Dify's cursors (``last_id`` for conversations, ``first_id`` for messages) and page-style lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from treadle.store import (
    Annotation,
    App,
    Conversation,
    Database,
    EndUser,
    InvalidPage,
    Message,
    NotFound,
    Tenant,
    conversations_page,
    messages_page,
    paginate,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _app_with_users(db: Database) -> tuple[str, str, str]:
    async with db.session() as s:
        tenant = Tenant(name="Acme")
        s.add(tenant)
        await s.flush()
        app = App(tenant_id=tenant.id, mode="chat", name="Chat")
        s.add(app)
        await s.flush()
        x, y = EndUser(tenant_id=tenant.id, app_id=app.id, session_id="x"), EndUser(
            tenant_id=tenant.id, app_id=app.id, session_id="y"
        )
        s.add_all([x, y])
        await s.flush()
        return app.id, x.id, y.id


async def _conversations(db: Database, app_id: str, user_id: str, count: int) -> list[str]:
    """``count`` conversations: created in order, updated in reverse order; two share each instant."""
    async with db.session() as s:
        rows = [
            Conversation(app_id=app_id, end_user_id=user_id, mode="chat", name=f"c{i}",
                         created_at=T0 + timedelta(seconds=i // 2), updated_at=T0 + timedelta(hours=1, seconds=-i))
            for i in range(count)
        ]  # fmt: skip
        s.add_all(rows)
        await s.flush()
        return [r.name for r in rows]


async def _walk(db: Database, **kwargs: object) -> tuple[list[str], list[bool]]:
    names: list[str] = []
    more: list[bool] = []
    last_id = None
    while True:
        async with db.session() as s:
            page = await conversations_page(s, last_id=last_id, **kwargs)  # type: ignore[arg-type]
        names += [c.name for c in page.data]
        more.append(page.has_more)
        if not page.has_more:
            return names, more
        last_id = page.data[-1].id


@pytest.mark.parametrize(
    ("sort_by", "order"),
    [("-updated_at", list(range(7))), ("updated_at", list(range(6, -1, -1))), ("created_at", None),
     ("-created_at", None)],
)  # fmt: skip
async def test_conversation_pages_walk_every_conversation_once_in_order(
    db: Database, sort_by: str, order: list[int] | None
) -> None:
    app_id, x, y = await _app_with_users(db)
    await _conversations(db, app_id, x, 7)
    await _conversations(db, app_id, y, 2)
    names, more = await _walk(db, app_id=app_id, end_user_id=x, limit=3, sort_by=sort_by)
    assert more == [True, True, False]
    assert sorted(names) == [f"c{i}" for i in range(7)]
    if order is not None:
        assert names == [f"c{i}" for i in order]
    else:
        created = [int(n[1:]) // 2 for n in names]
        assert created == sorted(created, reverse=sort_by.startswith("-"))


async def test_deleted_conversations_and_other_users_cursors_are_not_listed(db: Database) -> None:
    app_id, x, y = await _app_with_users(db)
    await _conversations(db, app_id, x, 2)
    await _conversations(db, app_id, y, 1)
    async with db.session() as s:
        first = await s.scalar(select(Conversation).where(Conversation.name == "c0", Conversation.end_user_id == x))
        theirs = await s.scalar(select(Conversation).where(Conversation.end_user_id == y))
        assert first is not None and theirs is not None
        first.is_deleted = True
    async with db.session() as s:
        page = await conversations_page(s, app_id=app_id, end_user_id=x)
        assert [c.name for c in page.data] == ["c1"] and not page.has_more
        with pytest.raises(NotFound, match=r"Last Conversation Not Exists\."):
            await conversations_page(s, app_id=app_id, end_user_id=x, last_id=theirs.id)


async def test_bad_page_parameters_name_the_parameter(db: Database) -> None:
    app_id, _, _ = await _app_with_users(db)
    async with db.session() as s:
        with pytest.raises(InvalidPage, match="limit: must be between 1 and 100, got 101"):
            await conversations_page(s, app_id=app_id, limit=101)
        with pytest.raises(InvalidPage, match="sort_by") as caught:
            await conversations_page(s, app_id=app_id, sort_by="name")
        assert caught.value.field == "sort_by"
        with pytest.raises(InvalidPage, match="page: must be 1 or more"):
            await paginate(s, select(Annotation), page=0)


async def test_message_pages_go_back_in_time_and_read_oldest_first(db: Database) -> None:
    app_id, x, _ = await _app_with_users(db)
    async with db.session() as s:
        conversation = Conversation(app_id=app_id, end_user_id=x, mode="chat")
        s.add(conversation)
        await s.flush()
        s.add_all([
            Message(app_id=app_id, conversation_id=conversation.id, query=f"q{i}",
                    created_at=T0 + timedelta(seconds=i // 2))
            for i in range(5)
        ])  # fmt: skip
    async with db.session() as s:
        newest = await messages_page(s, conversation_id=conversation.id, limit=2)
        assert [m.query for m in newest.data] == sorted(m.query for m in newest.data)
        seen = [m.query for m in newest.data]
        cursor_page = newest
        while cursor_page.has_more:
            cursor_page = await messages_page(s, conversation_id=conversation.id, first_id=cursor_page.data[0].id,
                                              limit=2)
            seen = [m.query for m in cursor_page.data] + seen
        # Every message once, in time order (messages of the same instant in id order).
        assert sorted(seen) == [f"q{i}" for i in range(5)]
        assert [int(q[1:]) // 2 for q in seen] == [0, 0, 1, 1, 2]
        assert newest.data[-1].query == "q4"
        with pytest.raises(NotFound, match=r"First Message Not Exists\."):
            await messages_page(s, conversation_id=conversation.id, first_id="missing")


async def test_page_style_lists_count_everything(db: Database) -> None:
    app_id, _, _ = await _app_with_users(db)
    async with db.session() as s:
        s.add_all([Annotation(app_id=app_id, question=f"q{i:02}", answer="a") for i in range(25)])
    async with db.session() as s:
        query = select(Annotation).where(Annotation.app_id == app_id).order_by(Annotation.question)
        second = await paginate(s, query, page=2, limit=10)
        last = await paginate(s, query, page=3, limit=10)
    assert (second.total, second.has_more, [a.question for a in second.data][:1]) == (25, True, ["q10"])
    assert (len(last.data), last.has_more) == (5, False)
