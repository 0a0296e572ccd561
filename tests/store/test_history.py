"""SqlConversationHistory answers a conversation's finished turns to memory windows, per workspace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from treadle.store import Conversation, Database, Message, SqlConversationHistory

from .worlds import workspace_with_app

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _conversation(db: Database, app_id: str, turns: list[dict[str, object]]) -> str:
    async with db.session() as s:
        conversation = Conversation(app_id=app_id, mode="advanced-chat")
        s.add(conversation)
        await s.flush()
        for i, turn in enumerate(turns):
            s.add(Message(app_id=app_id, conversation_id=conversation.id, created_at=T0 + timedelta(seconds=i),
                          **turn))  # fmt: skip
        return conversation.id


async def test_the_last_finished_turns_oldest_first(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    photo = {"id": "file-1", "type": "image", "belongs_to": "user"}
    chart = {"id": "file-2", "type": "image", "belongs_to": "assistant"}
    conversation_id = await _conversation(db, app_id, [
        {"query": "q1", "answer": "a1"},
        {"query": "q2", "answer": "a2", "files": [photo, chart]},
        {"query": "q3", "answer": "", "status": "error", "error": "model down"},
        {"query": "q4", "answer": "partial", "status": "paused"},
        {"query": "q5", "answer": "a5"},
        {"query": "q6", "answer": ""},  # still being answered
    ])  # fmt: skip
    history = SqlConversationHistory(db)

    assert await history.history(tenant_id, conversation_id, 10) == [
        {"query": "q1", "answer": "a1", "files": []},
        {"query": "q2", "answer": "a2", "files": [photo]},
        {"query": "q5", "answer": "a5", "files": []},
    ]
    assert [t["query"] for t in await history.history(tenant_id, conversation_id, 2)] == ["q2", "q5"]
    assert await history.history(tenant_id, conversation_id, 0) == []


async def test_another_workspace_sees_no_history(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db, name="Acme")
    intruder, _ = await workspace_with_app(db, name="Intruder")
    conversation_id = await _conversation(db, app_id, [{"query": "secret", "answer": "plans"}])
    history = SqlConversationHistory(db)

    assert await history.history(intruder, conversation_id, 10) == []
    assert len(await history.history(tenant_id, conversation_id, 10)) == 1


async def test_conversations_do_not_mix_and_deleted_ones_are_forgotten(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    first = await _conversation(db, app_id, [{"query": "one", "answer": "1"}])
    second = await _conversation(db, app_id, [{"query": "two", "answer": "2"}])
    history = SqlConversationHistory(db)
    assert [t["query"] for t in await history.history(tenant_id, second, 10)] == ["two"]

    async with db.session() as s:
        conversation = await s.get(Conversation, first)
        assert conversation is not None
        conversation.is_deleted = True
    assert await history.history(tenant_id, first, 10) == []
    assert await history.history(tenant_id, "no-such-conversation", 10) == []
