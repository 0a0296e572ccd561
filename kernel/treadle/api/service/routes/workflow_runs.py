"""Workflow run records: one run's detail and the paginated run logs (API-WF-RUN-GET, API-WF-LOGS).

Runs are what the generation routes recorded in ``workflow_runs``; a key sees only its own app's.
A log entry is one run (Treadle keeps no separate app-log table, so an entry's ``id`` is its run's),
as Dify's log list shows it: the run's summary, where it came from, and who started it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....store import Account, EndUser, WorkflowRun, paginate
from .. import errors
from ..requests import WorkflowLogsQuery
from .common import authenticated, query_params, require_workflow, respond

__all__ = ["ROUTES"]

RUN_NOT_FOUND = "Workflow run not found."

#: Where a run came from, by the type of the end user who started it (Dify's ``created_from``).
_CREATED_FROM = {"service_api": "service-api", "browser": "web-app"}


def _ts(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _aware(value: datetime) -> datetime:
    """A time from the query string; one without an offset is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def run_detail(request: Request) -> Response:
    state, app = await authenticated(request)
    require_workflow(app, chatflow=True)
    run_id = request.path_params["workflow_run_id"]
    async with state.db.session() as session:
        run = await session.scalar(select(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.app_id == app.id))
    if run is None:
        raise errors.NOT_FOUND.error(RUN_NOT_FOUND)
    return respond({
        "id": run.id,
        "workflow_id": run.workflow_id,
        "status": run.status,
        "inputs": run.inputs,
        "outputs": run.outputs,
        "error": run.error,
        "total_steps": run.total_steps,
        "total_tokens": run.total_tokens,
        "created_at": _ts(run.created_at),
        "finished_at": _ts(run.finished_at),
        "elapsed_time": run.elapsed_time,
    })


def _log(run: WorkflowRun, end_user: EndUser | None, account: Account | None) -> dict[str, Any]:
    if end_user is not None:
        created_from = _CREATED_FROM.get(end_user.type, "service-api")
    else:
        created_from = "installed-app"
    return {
        "id": run.id,
        "workflow_run": {
            "id": run.id,
            "version": run.version,
            "status": run.status,
            "error": run.error,
            "elapsed_time": run.elapsed_time,
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_at": _ts(run.created_at),
            "finished_at": _ts(run.finished_at),
            "exceptions_count": run.exceptions_count,
            "triggered_from": run.triggered_from,
        },
        "created_from": created_from,
        "created_by_role": run.created_by_role,
        "created_by_account": None if account is None else {
            "id": account.id, "name": account.name, "email": account.email,
        },
        "created_by_end_user": None if end_user is None else {
            "id": end_user.id, "type": end_user.type, "is_anonymous": end_user.is_anonymous,
            "session_id": end_user.session_id,
        },
        "created_at": _ts(run.created_at),
        "details": None,
    }


async def run_logs(request: Request) -> Response:
    state, app = await authenticated(request)
    query = query_params(request, WorkflowLogsQuery)
    statement = (
        select(WorkflowRun)
        .outerjoin(EndUser, EndUser.id == WorkflowRun.created_by_end_user_id)
        .outerjoin(Account, Account.id == WorkflowRun.created_by_account_id)
        # Runs from the editor's debugger are not app logs (Dify logs app runs only).
        .where(WorkflowRun.app_id == app.id, WorkflowRun.triggered_from != "debugging")
    )
    keyword = (query.keyword or "").strip()
    if keyword:
        # JSON documents are stored with non-ASCII characters escaped; look for both spellings.
        patterns = {_like(keyword), _like(json.dumps(keyword)[1:-1])}
        columns = (cast(WorkflowRun.inputs, String), cast(WorkflowRun.outputs, String), EndUser.session_id)
        statement = statement.where(or_(*(c.ilike(p, escape="\\") for c in columns for p in patterns)))
    if query.status is not None:
        statement = statement.where(WorkflowRun.status == query.status)
    if query.created_at__before is not None:
        statement = statement.where(WorkflowRun.created_at <= _aware(query.created_at__before))
    if query.created_at__after is not None:
        statement = statement.where(WorkflowRun.created_at >= _aware(query.created_at__after))
    if query.created_by_end_user_session_id:
        statement = statement.where(
            WorkflowRun.created_by_role == "end_user", EndUser.session_id == query.created_by_end_user_session_id
        )
    if query.created_by_account:
        # Dify names the account by email; its id is accepted too.
        statement = statement.where(
            WorkflowRun.created_by_role == "account",
            or_(Account.email == query.created_by_account, Account.id == query.created_by_account),
        )
    statement = statement.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id.desc())
    async with state.db.session() as session:
        page = await paginate(session, statement, page=query.page, limit=query.limit)
        user_ids = {run.created_by_end_user_id for run in page.data if run.created_by_end_user_id}
        account_ids = {run.created_by_account_id for run in page.data if run.created_by_account_id}
        users = {u.id: u for u in await session.scalars(select(EndUser).where(EndUser.id.in_(user_ids)))} \
            if user_ids else {}
        accounts = {a.id: a for a in await session.scalars(select(Account).where(Account.id.in_(account_ids)))} \
            if account_ids else {}
    return respond({
        "page": page.page,
        "limit": page.limit,
        "total": page.total,
        "has_more": page.has_more,
        "data": [
            _log(run, users.get(run.created_by_end_user_id or ""), accounts.get(run.created_by_account_id or ""))
            for run in page.data
        ],
    })


ROUTES = [
    Route("/workflows/run/{workflow_run_id}", run_detail, methods=["GET"]),
    Route("/workflows/logs", run_logs, methods=["GET"]),
]
