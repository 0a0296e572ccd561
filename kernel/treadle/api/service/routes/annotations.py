"""Annotations: ``/apps/annotations`` and annotation reply ``/apps/annotation-reply/{action}``
(API-ANN-CREATE, API-ANN-LIST, API-ANN-UPDATE, API-ANN-DELETE, API-ANN-REPLY-CFG, API-ANN-REPLY-STATUS).

Every lookup is scoped by the key's app: another app's annotation is "Annotation not found.", and
another app's job "The job does not exist.". Enabling and disabling reply run in the background
(:class:`~treadle.apps.annotations.AnnotationJobs`); the caller polls the job's status, which is
kept in the database so that whichever server process the poll lands on answers it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....apps.annotations import AnnotationJobs, AnnotationReply
from ....store import Annotation, paginate
from .. import errors
from ..requests import AnnotationListQuery, AnnotationReplySettingsRequest, AnnotationRequest
from ..state import ServiceApp, ServiceState
from .common import authenticated, json_body, query_params, respond

__all__ = ["ROUTES", "annotation_jobs"]

log = logging.getLogger(__name__)

ANNOTATION_NOT_FOUND = "Annotation not found."
JOB_NOT_FOUND = "The job does not exist."
_ACTIONS = ("enable", "disable")


def annotation_jobs(state: ServiceState) -> AnnotationJobs:
    """The annotation reply jobs on the server's database: their statuses are rows, so a job started
    by another process is found too (nothing of them is kept in this process but the running tasks)."""
    return AnnotationJobs(state.db)


def _annotation(row: Annotation) -> dict[str, Any]:
    return {
        "id": row.id,
        "question": row.question,
        "answer": row.answer,
        "hit_count": row.hit_count,
        "created_at": int(row.created_at.timestamp()),
    }


def _like(keyword: str) -> str:
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _reindex_later(state: ServiceState, app: ServiceApp, annotation_id: str) -> None:
    """Embed a new or edited annotation in the background when the app's reply is on (a match
    embeds whatever is still stale, so a failure here only costs time later)."""

    async def work() -> None:
        try:
            with state.supervisor.kernel_client(tenant_id=app.tenant_id) as kernel:
                await AnnotationReply(state.db).index(app.tenant_id, app.id, kernel, [annotation_id])
        except Exception as exc:
            log.warning("could not embed annotation %s of app %s: %s", annotation_id, app.id, exc)

    state.run_later(work())


async def _reply_enabled(state: ServiceState, app: ServiceApp) -> bool:
    settings = await AnnotationReply(state.db).settings(app.tenant_id, app.id)
    return settings is not None and settings.enabled


# -- CRUD ----------------------------------------------------------------------------------------------


async def list_annotations(request: Request) -> Response:
    state, app = await authenticated(request)
    query = query_params(request, AnnotationListQuery)
    statement = select(Annotation).where(Annotation.app_id == app.id)
    keyword = query.keyword.strip()
    if keyword:
        pattern = _like(keyword.lower())
        statement = statement.where(or_(
            func.lower(Annotation.question).like(pattern, escape="\\"),
            func.lower(Annotation.answer).like(pattern, escape="\\"),
        ))
    statement = statement.order_by(Annotation.created_at.desc(), Annotation.id.desc())
    async with state.db.session() as session:
        page = await paginate(session, statement, page=query.page, limit=query.limit)
    return respond({
        "data": [_annotation(row) for row in page.data],
        "has_more": page.has_more,
        "limit": page.limit,
        "total": page.total,
        "page": page.page,
    })


async def create_annotation(request: Request) -> Response:
    state, app = await authenticated(request)
    body = await json_body(request, AnnotationRequest)
    async with state.db.session() as session:
        row = Annotation(app_id=app.id, question=body.question, answer=body.answer)
        session.add(row)
        await session.flush()
        await session.refresh(row)
        payload = _annotation(row)
    if await _reply_enabled(state, app):
        _reindex_later(state, app, payload["id"])
    return respond(payload, 201)


async def update_annotation(request: Request) -> Response:
    state, app = await authenticated(request)
    annotation_id = request.path_params["annotation_id"]
    body = await json_body(request, AnnotationRequest)
    async with state.db.session() as session:
        row = await session.scalar(
            select(Annotation).where(Annotation.id == annotation_id, Annotation.app_id == app.id)
        )
        if row is None:
            raise errors.NOT_FOUND.error(ANNOTATION_NOT_FOUND)
        row.question, row.answer = body.question, body.answer
        await session.flush()
        payload = _annotation(row)
    if await _reply_enabled(state, app):
        _reindex_later(state, app, annotation_id)
    return respond(payload)


async def delete_annotation(request: Request) -> Response:
    state, app = await authenticated(request)
    annotation_id = request.path_params["annotation_id"]
    async with state.db.session() as session:
        row = await session.scalar(
            select(Annotation).where(Annotation.id == annotation_id, Annotation.app_id == app.id)
        )
        if row is None:
            raise errors.NOT_FOUND.error(ANNOTATION_NOT_FOUND)
        await session.delete(row)  # its embedding goes with it (ON DELETE CASCADE)
    return Response(status_code=204)


# -- annotation reply ----------------------------------------------------------------------------------


def _action(request: Request) -> str:
    action: str = request.path_params["action"]
    if action not in _ACTIONS:
        raise errors.INVALID_PARAM.error(
            f"Unsupported annotation reply action {action!r}: use enable or disable.", params="action"
        )
    return action


async def configure_reply(request: Request) -> Response:
    state, app = await authenticated(request)
    action = _action(request)
    reply = AnnotationReply(state.db)
    if action == "enable":
        body = await json_body(request, AnnotationReplySettingsRequest)

        async def work() -> None:
            with state.supervisor.kernel_client(tenant_id=app.tenant_id) as kernel:
                await reply.enable(
                    app.tenant_id, app.id, provider=body.embedding_provider_name, model=body.embedding_model_name,
                    score_threshold=body.score_threshold, kernel=kernel,
                )
    else:
        # Dify clients send the same fields to disable; they are not needed to switch reply off.
        await request.body()

        async def work() -> None:
            await reply.disable(app.tenant_id, app.id)

    job = await annotation_jobs(state).start(app.id, action, work, spawn=state.run_later)
    return respond({"job_id": job.id, "job_status": "waiting"})


async def reply_status(request: Request) -> Response:
    state, app = await authenticated(request)
    action = _action(request)
    job = await annotation_jobs(state).get(app.id, action, request.path_params["job_id"])
    if job is None:
        raise errors.INVALID_PARAM.error(JOB_NOT_FOUND)
    return respond({"job_id": job.id, "job_status": job.status, "error_msg": job.error_msg})


ROUTES = [
    Route("/apps/annotations", list_annotations, methods=["GET"]),
    Route("/apps/annotations", create_annotation, methods=["POST"]),
    Route("/apps/annotations/{annotation_id}", update_annotation, methods=["PUT"]),
    Route("/apps/annotations/{annotation_id}", delete_annotation, methods=["DELETE"]),
    Route("/apps/annotation-reply/{action}", configure_reply, methods=["POST"]),
    Route("/apps/annotation-reply/{action}/status/{job_id}", reply_status, methods=["GET"]),
]
