"""The run logs of an app of the current workspace: its workflow runs (page style), one run, and the
node executions of a run with their inputs, outputs, process data, timings, tokens and status.

Runs are looked up by app and workspace together, so a run id of another app or workspace is 404.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ...store import Account, EndUser, NodeExecution, Workflow, WorkflowRun, paginate
from ...tenancy import Action
from ..errors import ApiError
from ..service.routes.common import query_params, respond
from .common import Member, endpoint, timestamp, workspace_member

__all__ = ["ROUTES", "node_execution_view", "run_summary"]


class RunListQuery(BaseModel):
    """``GET /apps/{id}/workflow-runs``."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=99999)
    limit: int = Field(default=20, ge=1, le=100)
    status: Literal["running", "succeeded", "failed", "stopped", "partial-succeeded", "paused"] | None = None


def run_summary(run: WorkflowRun) -> dict[str, Any]:
    """A run as the run list shows it (Dify's fields)."""
    return {
        "id": run.id,
        "version": run.version,
        "type": run.type,
        "triggered_from": run.triggered_from,
        "status": run.status,
        "error": run.error,
        "elapsed_time": run.elapsed_time,
        "total_tokens": run.total_tokens,
        "total_steps": run.total_steps,
        "exceptions_count": run.exceptions_count,
        "conversation_id": run.conversation_id,
        "created_by_role": run.created_by_role,
        "created_at": timestamp(run.created_at),
        "finished_at": timestamp(run.finished_at),
    }


def node_execution_view(row: NodeExecution) -> dict[str, Any]:
    """A node execution as the run's trace shows it (Dify's fields)."""
    return {
        "id": row.id,
        "index": row.index,
        "predecessor_node_id": row.predecessor_node_id,
        "node_id": row.node_id,
        "node_type": row.node_type,
        "title": row.title,
        "inputs": row.inputs,
        "process_data": row.process_data,
        "outputs": row.outputs,
        "status": row.status,
        "error": row.error,
        "elapsed_time": row.elapsed_time,
        "execution_metadata": row.execution_metadata or {},
        "extras": {},
        "created_at": timestamp(row.created_at),
        "finished_at": timestamp(row.finished_at),
    }


async def _app_id(member: Member, request: Request) -> str:
    app = await member.state.apps(member.tenant_id).get(request.path_params["app_id"])
    return app.id


async def _run(session: AsyncSession, member: Member, app_id: str, run_id: str) -> WorkflowRun:
    run = await session.scalar(
        select(WorkflowRun).where(
            WorkflowRun.id == run_id, WorkflowRun.app_id == app_id, WorkflowRun.tenant_id == member.tenant_id
        )
    )
    if run is None:
        raise ApiError(404, "not_found", f"Workflow run {run_id} not found for this app.")
    return run


async def _created_by(session: AsyncSession, run: WorkflowRun) -> dict[str, Any]:
    account = None
    end_user = None
    if run.created_by_account_id:
        found = await session.get(Account, run.created_by_account_id)
        if found is not None:
            account = {"id": found.id, "name": found.name, "email": found.email}
    if run.created_by_end_user_id:
        user = await session.get(EndUser, run.created_by_end_user_id)
        if user is not None:
            end_user = {
                "id": user.id, "type": user.type, "is_anonymous": user.is_anonymous, "session_id": user.session_id
            }
    return {"created_by_account": account, "created_by_end_user": end_user}


async def list_runs(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_VIEW_LOGS)
    query = query_params(request, RunListQuery)
    app_id = await _app_id(member, request)
    statement = select(WorkflowRun).where(WorkflowRun.app_id == app_id, WorkflowRun.tenant_id == member.tenant_id)
    if query.status is not None:
        statement = statement.where(WorkflowRun.status == query.status)
    statement = statement.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id.desc())
    async with member.state.db.session() as session:
        found = await paginate(session, statement, page=query.page, limit=query.limit)
    return respond(
        {
            "page": found.page,
            "limit": found.limit,
            "total": found.total,
            "has_more": found.has_more,
            "data": [run_summary(run) for run in found.data],
        }
    )


async def get_run(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_VIEW_LOGS)
    app_id = await _app_id(member, request)
    async with member.state.db.session() as session:
        run = await _run(session, member, app_id, request.path_params["run_id"])
        workflow = await session.get(Workflow, run.workflow_id) if run.workflow_id else None
        view = {
            **run_summary(run),
            "workflow_id": run.workflow_id,
            "graph": workflow.graph if workflow is not None else None,
            "inputs": run.inputs,
            "outputs": run.outputs,
            **await _created_by(session, run),
        }
    return respond(view)


async def node_executions(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_VIEW_LOGS)
    app_id = await _app_id(member, request)
    async with member.state.db.session() as session:
        run = await _run(session, member, app_id, request.path_params["run_id"])
        rows = await session.scalars(
            select(NodeExecution)
            .where(NodeExecution.workflow_run_id == run.id)
            .order_by(NodeExecution.index, NodeExecution.created_at, NodeExecution.id)
        )
        data = [node_execution_view(row) for row in rows]
    return respond({"data": data})


ROUTES = [
    endpoint("/apps/{app_id}/workflow-runs", list_runs, ["GET"]),
    endpoint("/apps/{app_id}/workflow-runs/{run_id}", get_run, ["GET"]),
    endpoint("/apps/{app_id}/workflow-runs/{run_id}/node-executions", node_executions, ["GET"]),
]
