"""Workflow run records over HTTP: one run's detail and the paginated logs with their filters, for the
runs ``POST /workflows/run`` and chatflow messages recorded (API-WF-RUN-GET, API-WF-LOGS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from support.dsl import ECHO_CHAT, SHOUT_WORKFLOW
from support.service_api import ServiceApi, service_api
from treadle.store import Account, WorkflowRun

WORKFLOW = SHOUT_WORKFLOW

FAILING = WORKFLOW.replace('template: "{{ t | upper }}!"', 'template: "{{ (t | length) // 0 }}"').replace(
    "name: Shout", "name: Broken")

CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Parrot}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: answer
      data: {type: answer, title: Answer, answer: "You said {{#sys.query#}}"}
    edges:
    - {id: e1, source: start, target: answer}
"""

CHAT = ECHO_CHAT

APPS = {"workflow": WORKFLOW, "other": WORKFLOW.replace("name: Shout", "name: Other"), "failing": FAILING,
        "chatflow": CHATFLOW, "chat": CHAT}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


async def _run(api: ServiceApi, text: str, user: str = "u1", app: str = "workflow") -> str:
    response = await api.client.post("/workflows/run", headers=api.auth(app),
                                     json={"inputs": {"text": text}, "user": user})
    assert response.status_code == 200, response.text
    await asyncio.gather(*list(api.state.background))
    run_id: str = response.json()["workflow_run_id"]
    return run_id


async def _logs(api: ServiceApi, app: str = "workflow", **params: Any) -> dict[str, Any]:
    response = await api.client.get("/workflows/logs", headers=api.auth(app), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_run_detail_has_the_documented_fields(api: ServiceApi) -> None:
    """API-WF-RUN-GET: {id, workflow_id, status, inputs, outputs, error, total_steps, total_tokens,
    created_at, finished_at, elapsed_time}, timestamps in Unix seconds."""
    run_id = await _run(api, "hello")
    response = await api.client.get(f"/workflows/run/{run_id}", headers=api.auth("workflow"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "workflow_id", "status", "inputs", "outputs", "error", "total_steps",
                         "total_tokens", "created_at", "finished_at", "elapsed_time"}
    async with api.db.session() as s:
        row = await s.get(WorkflowRun, run_id)
    assert row is not None
    assert body["id"] == run_id and body["workflow_id"] == row.workflow_id and body["workflow_id"]
    assert (body["status"], body["outputs"], body["error"], body["total_steps"]) == (
        "succeeded", {"shout": "HELLO!"}, None, 3)
    assert body["inputs"]["text"] == "hello"
    assert isinstance(body["created_at"], int) and isinstance(body["finished_at"], int)
    assert body["created_at"] == int(row.created_at.timestamp()) and body["finished_at"] >= body["created_at"]
    assert isinstance(body["elapsed_time"], float) and body["elapsed_time"] >= 0


async def test_a_failed_run_shows_its_error(api: ServiceApi) -> None:
    run_id = await _run(api, "x", app="failing")
    body = (await api.client.get(f"/workflows/run/{run_id}", headers=api.auth("failing"))).json()
    assert body["status"] == "failed" and body["error"]


async def test_run_detail_is_for_this_apps_runs_only(api: ServiceApi) -> None:
    """404 "Workflow run not found." for another app's run or an unknown id; 400 not_workflow_app for
    a chat app's key."""
    run_id = await _run(api, "mine")
    for app, asked in (("other", run_id), ("workflow", "5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b"),
                       ("workflow", "not-a-uuid")):
        response = await api.client.get(f"/workflows/run/{asked}", headers=api.auth(app))
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Workflow run not found.", "status": 404}
    chat = await api.client.get(f"/workflows/run/{run_id}", headers=api.auth("chat"))
    assert chat.status_code == 400 and chat.json()["code"] == "not_workflow_app"


async def test_a_chatflow_run_has_a_detail_and_a_log(api: ServiceApi) -> None:
    """CF apps: a chat message's workflow run is readable and listed."""
    response = await api.client.post("/chat-messages", headers=api.auth("chatflow"),
                                     json={"inputs": {}, "query": "hi", "user": "ann"})
    assert response.status_code == 200, response.text
    await asyncio.gather(*list(api.state.background))
    async with api.db.session() as s:
        run_id = await s.scalar(select(WorkflowRun.id).where(WorkflowRun.app_id == api.apps["chatflow"]))
    assert run_id is not None
    detail = await api.client.get(f"/workflows/run/{run_id}", headers=api.auth("chatflow"))
    assert detail.status_code == 200 and detail.json()["status"] == "succeeded"
    logs = await _logs(api, "chatflow")
    assert [entry["workflow_run"]["id"] for entry in logs["data"]] == [run_id]


async def test_logs_have_the_documented_shape(api: ServiceApi) -> None:
    """API-WF-LOGS: {page, limit, total, has_more, data[{id, workflow_run{...}, created_from,
    created_by_role, created_by_account, created_by_end_user{id, type, is_anonymous, session_id},
    created_at, details}]}."""
    run_id = await _run(api, "hello", user="ann")
    body = await _logs(api)
    assert (body["page"], body["limit"], body["total"], body["has_more"]) == (1, 20, 1, False)
    (entry,) = body["data"]
    assert set(entry) == {"id", "workflow_run", "created_from", "created_by_role", "created_by_account",
                          "created_by_end_user", "created_at", "details"}
    assert set(entry["workflow_run"]) == {"id", "version", "status", "error", "elapsed_time", "total_tokens",
                                          "total_steps", "created_at", "finished_at", "exceptions_count",
                                          "triggered_from"}
    async with api.db.session() as s:
        row = await s.get(WorkflowRun, run_id)
    assert row is not None
    assert entry["workflow_run"] == {
        "id": run_id, "version": row.version, "status": "succeeded", "error": None,
        "elapsed_time": row.elapsed_time, "total_tokens": 0, "total_steps": 3,
        "created_at": int(row.created_at.timestamp()), "finished_at": int(row.finished_at.timestamp())
        if row.finished_at else None, "exceptions_count": 0, "triggered_from": "app-run",
    }
    assert (entry["created_from"], entry["created_by_role"], entry["created_by_account"]) == (
        "service-api", "end_user", None)
    assert entry["created_by_end_user"] == {
        "id": row.created_by_end_user_id, "type": "service_api", "is_anonymous": False, "session_id": "ann",
    }
    assert entry["created_at"] == int(row.created_at.timestamp())
    assert row.version != "draft"


async def test_logs_page_newest_first_and_only_this_app(api: ServiceApi) -> None:
    runs = [await _run(api, f"run {i}") for i in range(5)]
    await _run(api, "elsewhere", app="other")
    first = await _logs(api, page=1, limit=2)
    assert (first["total"], first["has_more"], first["limit"]) == (5, True, 2)
    pages = first["data"] + (await _logs(api, page=2, limit=2))["data"] + (await _logs(api, page=3, limit=2))["data"]
    assert [entry["id"] for entry in pages] == list(reversed(runs))
    last = await _logs(api, page=3, limit=2)
    assert (last["has_more"], len(last["data"])) == (False, 1)
    assert (await _logs(api, page=4, limit=2))["data"] == []
    assert (await _logs(api, "chat"))["data"] == []  # a chat app records no workflow runs


async def test_logs_filter_by_status_keyword_user_and_time(api: ServiceApi) -> None:
    plain = await _run(api, "apple pie", user="ann")
    accented = await _run(api, "crème brûlée", user="bob")
    await _run(api, "x", app="failing", user="ann")
    failed_logs = await _logs(api, "failing", status="failed")
    assert failed_logs["total"] == 1
    assert (await _logs(api, "failing", status="succeeded"))["total"] == 0
    assert [e["id"] for e in (await _logs(api, status="succeeded"))["data"]] == [accented, plain]

    async def ids(**params: Any) -> list[str]:
        return [entry["id"] for entry in (await _logs(api, **params))["data"]]

    assert await ids(keyword="APPLE") == [plain]  # inputs, case-insensitively
    assert await ids(keyword="PIE!") == [plain]  # outputs
    assert await ids(keyword="brûlée") == [accented]  # stored JSON escapes it; still found
    assert await ids(keyword="bob") == [accented]  # the end user's session id
    assert await ids(keyword="%") == []
    assert await ids(created_by_end_user_session_id="ann") == [plain]
    assert await ids(created_by_end_user_session_id="nobody") == []
    assert await ids(created_by_account="ann@example.com") == []

    # Time bounds (ISO 8601): move the first run a day back.
    async with api.db.session() as s:
        await s.execute(update(WorkflowRun).where(WorkflowRun.id == plain)
                        .values(created_at=datetime.now(UTC) - timedelta(days=1)))
    cut = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert await ids(created_at__before=cut) == [plain]  # no offset: UTC
    assert await ids(created_at__after=cut + "+00:00") == [accented]
    assert await ids(created_at__after=cut, created_at__before=datetime.now(UTC).isoformat()) == [accented]


async def test_logs_show_and_filter_runs_started_by_an_account(api: ServiceApi) -> None:
    """A run started by a member (not through the Service API) shows created_by_account, and the
    created_by_account filter takes the member's email."""
    await _run(api, "from the api")
    account_run = await _run(api, "from the console")
    async with api.db.session() as s:
        account = await s.scalar(select(Account))
        assert account is not None
        await s.execute(update(WorkflowRun).where(WorkflowRun.id == account_run).values(
            created_by_role="account", created_by_account_id=account.id, created_by_end_user_id=None))
        email, name, account_id = account.email, account.name, account.id
    (entry,) = (await _logs(api, created_by_account=email))["data"]
    assert entry["id"] == account_run
    assert entry["created_by_role"] == "account" and entry["created_by_end_user"] is None
    assert entry["created_by_account"] == {"id": account_id, "name": name, "email": email}
    assert entry["created_from"] == "installed-app"
    assert (await _logs(api, created_by_account=account_id))["total"] == 1
    assert (await _logs(api, created_by_end_user_session_id="u1"))["total"] == 1


async def test_logs_refuse_bad_query_parameters(api: ServiceApi) -> None:
    for params in ({"page": 0}, {"page": 100000}, {"limit": 0}, {"limit": 101}, {"status": "running"},
                   {"created_at__before": "yesterday"}, {"created_at__after": "2024-13-01T00:00:00"}):
        response = await api.client.get("/workflows/logs", headers=api.auth("workflow"), params=params)
        assert response.status_code == 400, (params, response.text)
        body = response.json()
        assert body["code"] == "invalid_param" and next(iter(params)) in body["message"]
    assert (await api.client.get("/workflows/logs")).status_code == 401
