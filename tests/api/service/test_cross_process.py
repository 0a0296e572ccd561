"""Stops and the per-app concurrency limit across server processes: two applications on one database
stand for two worker processes, which share nothing but the database (API-CHAT-STOP, API-WF-STOP,
APP_MAX_ACTIVE_REQUESTS).

A streaming run is read here straight off the ASGI application, event by event, so a test knows the
run is under way (and its task id) from its first event, as a client would, instead of waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update
from support.dsl import SLOW_WORKFLOW
from support.service_api import EventStream, ServiceApi, another_process, open_stream, service_api
from treadle.store import ActiveRequest, App, RunStopRequest, new_id, utcnow

#: A chat app whose answer comes a word every 200 ms: it is under way long enough to be stopped.
SLOW_CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Slow}
model_config:
  model:
    provider: fake
    name: script
    mode: chat
    completion_params: {script: '[{"content": "one two three four five six seven eight", "delay_ms": 200}]'}
  pre_prompt: ""
  user_input_form: []
"""



@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps={"chat": SLOW_CHAT, "flow": SLOW_WORKFLOW}) as running:
        yield running


async def stop_requests(api: ServiceApi) -> list[RunStopRequest]:
    async with api.db.session() as session:
        return list(await session.scalars(select(RunStopRequest)))


async def leases(api: ServiceApi, app_id: str) -> int:
    async with api.db.session() as session:
        return (
            await session.scalar(select(func.count()).select_from(ActiveRequest).where(ActiveRequest.app_id == app_id))
            or 0
        )


async def test_a_workflow_run_is_stopped_by_a_stop_sent_to_another_process(api: ServiceApi) -> None:
    """API-WF-STOP: the stop reaches the process running the task through the database; the run ends
    stopped, the stop request is gone, and the process stops polling once it has no runs."""
    async with another_process(api) as (other, client):
        stream = await open_stream(api, api.app, "/workflows/run", "flow", {"inputs": {}, "user": "ann"})
        started = await stream.next_event()
        assert started is not None and started["event"] == "workflow_started"
        task_id = started["task_id"]
        assert task_id in api.state.tasks and task_id not in other.state.service.tasks

        answer = await client.post(f"/workflows/tasks/{task_id}/stop", headers=api.auth("flow"), json={"user": "ann"})
        assert answer.status_code == 200 and answer.json() == {"result": "success"}

        events = await stream.rest()
        finished = events[-1]
        assert finished["event"] == "workflow_finished" and finished["task_id"] == task_id
        assert finished["data"]["status"] == "stopped"
        assert await stop_requests(api) == []
        # With no runs left, the poller has ended: all background work of the process finishes.
        await asyncio.wait_for(asyncio.gather(*api.state.background), 10)
        assert not api.state.background


async def test_another_users_stop_sent_to_another_process_leaves_the_run_alone(api: ServiceApi) -> None:
    """API-CHAT-STOP: a stop request of another end user is taken off the table by the process running
    the task, and ignored; the user's own stop, sent to the other process after it, stops the run and
    keeps the answer so far."""
    async with another_process(api) as (_, client):
        stream = await open_stream(
            api, api.app, "/chat-messages", "chat", {"inputs": {}, "query": "count", "user": "ann"}
        )
        first = await stream.next_event()
        assert first is not None and first["event"] == "message"
        task_id = first["task_id"]

        bobs = await client.post(f"/chat-messages/{task_id}/stop", headers=api.auth("chat"), json={"user": "bob"})
        assert bobs.json() == {"result": "success"}
        assert [(r.task_id, r.app_id) for r in await stop_requests(api)] in ([(task_id, api.apps["chat"])], [])
        await api.state.tasks.check_stop_requests()  # what the poller does; whichever looks first takes it
        assert await stop_requests(api) == []
        assert task_id in api.state.tasks  # still running: bob did not start it

        anns = await client.post(f"/chat-messages/{task_id}/stop", headers=api.auth("chat"), json={"user": "ann"})
        assert anns.json() == {"result": "success"}
        events = [first, *await stream.rest()]
        assert events[-1]["event"] == "message_end"
        answer = "".join(e["answer"] for e in events if e["event"] == "message")
        assert answer and answer != "one two three four five six seven eight"
        assert await stop_requests(api) == []


async def test_a_stop_of_a_task_of_this_process_or_no_task_writes_nothing_lasting(api: ServiceApi) -> None:
    """A stop of this process's own task needs no database; one of a task no process runs stays
    only as an unclaimed request, and a second one for the same task is a duplicate (ignored)."""
    stream = await open_stream(api, api.app, "/chat-messages", "chat", {"inputs": {}, "query": "count", "user": "ann"})
    first = await stream.next_event()
    assert first is not None
    stopped = await api.client.post(
        f"/chat-messages/{first['task_id']}/stop", headers=api.auth("chat"), json={"user": "ann"}
    )
    assert stopped.json() == {"result": "success"}
    assert await stop_requests(api) == []
    await stream.rest()

    unknown = new_id()
    for _ in range(2):
        answer = await api.client.post(f"/chat-messages/{unknown}/stop", headers=api.auth("chat"), json={"user": "ann"})
        assert answer.status_code == 200 and answer.json() == {"result": "success"}
    assert [r.task_id for r in await stop_requests(api)] == [unknown]
    not_an_id = await api.client.post("/chat-messages/not-a-task/stop", headers=api.auth("chat"), json={"user": "ann"})
    assert not_an_id.json() == {"result": "success"}
    assert len(await stop_requests(api)) == 1


async def test_the_limit_counts_the_requests_of_every_process(api: ServiceApi) -> None:
    """APP_MAX_ACTIVE_REQUESTS across processes: with a limit of 1, a run under way on one process
    makes the other answer 429; once it ends, the other accepts again and no lease is left."""
    app_id = api.apps["chat"]
    async with api.db.session() as session:
        await session.execute(update(App).where(App.id == app_id).values(max_active_requests=1))
    async with another_process(api) as (_, client):
        stream = await open_stream(api, api.app, "/chat-messages", "chat", {"inputs": {}, "query": "a", "user": "u"})
        first = await stream.next_event()
        assert first is not None and await leases(api, app_id) == 1

        refused = await client.post(
            "/chat-messages",
            headers=api.auth("chat"),
            json={"inputs": {}, "query": "b", "user": "u", "response_mode": "blocking"},
        )
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_requests"

        await api.client.post(f"/chat-messages/{first['task_id']}/stop", headers=api.auth("chat"), json={"user": "u"})
        await stream.rest()
        assert await leases(api, app_id) == 0

        accepted = await client.post(
            "/chat-messages",
            headers=api.auth("chat"),
            json={"inputs": {}, "query": "c", "user": "u", "response_mode": "blocking"},
        )
        assert accepted.status_code == 200, accepted.text
        assert await leases(api, app_id) == 0


async def test_a_lease_counts_until_it_expires(api: ServiceApi) -> None:
    """A lease its process never released (the process died) counts until its ``expires_at``; then
    it is deleted by the next count and the app takes requests again."""
    app_id = api.apps["chat"]
    dead = new_id()
    async with api.db.session() as session:
        await session.execute(update(App).where(App.id == app_id).values(max_active_requests=1))
        session.add(ActiveRequest(id=dead, app_id=app_id, expires_at=utcnow() + timedelta(minutes=5)))
    async with another_process(api) as (other, client):
        body = {"inputs": {}, "query": "a", "user": "u", "response_mode": "streaming"}
        refused = await client.post("/chat-messages", headers=api.auth("chat"), json=body)
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_requests"

        async with api.db.session() as session:
            await session.execute(
                update(ActiveRequest).where(ActiveRequest.id == dead).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        stream = EventStream(other, "/chat-messages", api.auth("chat"), body)
        assert await stream.started() == 200
        assert await stream.next_event() is not None
        async with api.db.session() as session:
            assert await session.get(ActiveRequest, dead) is None
        assert await leases(api, app_id) == 1
        await stream.rest()
    assert await leases(api, app_id) == 0


async def test_without_a_limit_no_lease_is_written(api: ServiceApi) -> None:
    """The limit is off by default: a request then does no database work for it."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa_event.listen(api.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        stream = await open_stream(api, api.app, "/chat-messages", "chat", {"inputs": {}, "query": "a", "user": "u"})
        await stream.rest()
    finally:
        sa_event.remove(api.db.engine.sync_engine, "before_cursor_execute", seen)
    assert statements and not [s for s in statements if "app_active_requests" in s]
