"""Apps of the current workspace: list, import from DSL, read, delete, export, publish, versions and
restore (APP-*, WS-APP-MGMT, VC-DRAFT-PUBLISH, VC-HISTORY, VC-MANAGE), and their Service API keys.

Every lookup goes through :class:`~treadle.runtime.AppManager` for the current workspace, so another
workspace's app is 404 as if it did not exist. After a change to an app or its keys the Service API
is told to drop what it cached of the app.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from starlette.requests import Request
from starlette.responses import Response

from ...graph.dsl import DSL_VERSION
from ...store import ApiKey, App, paginate
from ...tenancy import Action
from ..errors import ApiError
from ..service.routes.common import json_body, query_params, respond
from .common import Member, endpoint, timestamp, workspace_member

__all__ = ["ROUTES", "app_detail", "app_summary", "key_view"]

_DSL_VERSION_LINE = re.compile(r"^version:\s*['\"]?([0-9][0-9.]*)", re.MULTILINE)


class AppListQuery(BaseModel):
    """``GET /apps``: page-style, filtered by mode (``all`` for every mode) and by a part of the name."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=99999)
    limit: int = Field(default=20, ge=1, le=100)
    mode: Literal["all", "workflow", "advanced-chat", "chat", "agent-chat", "completion"] = "all"
    name: str | None = Field(default=None, max_length=255)


class ImportRequest(BaseModel):
    """``POST /apps/imports``."""

    model_config = ConfigDict(extra="ignore")

    mode: Literal["yaml-content", "yaml-url"]
    yaml_content: str | None = None
    yaml_url: str | None = None
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=4000)


class ExportQuery(BaseModel):
    """``GET /apps/{id}/export``."""

    model_config = ConfigDict(extra="ignore")

    include_secret: bool = False


class PublishRequest(BaseModel):
    """``POST /apps/{id}/workflows/publish`` (Dify's limits on the version's name and notes)."""

    model_config = ConfigDict(extra="ignore")

    marked_name: str = Field(default="", max_length=20)
    marked_comment: str = Field(default="", max_length=100)


class VersionsQuery(BaseModel):
    """``GET /apps/{id}/workflows``."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=99999)
    limit: int = Field(default=10, ge=1, le=100)
    named_only: bool = False


def app_summary(app: App) -> dict[str, Any]:
    """An app as the app list shows it (Dify's fields)."""
    return {
        "id": app.id,
        "name": app.name,
        "description": app.description,
        "mode": app.mode,
        "icon_type": app.icon_type,
        "icon": app.icon,
        "icon_background": app.icon_background,
        "icon_url": None,
        "enable_site": app.enable_site,
        "enable_api": app.enable_api,
        "workflow": {"id": app.workflow_id} if app.workflow_id else None,
        "max_active_requests": app.max_active_requests,
        "tags": [],
        "created_by": app.created_by,
        "created_at": timestamp(app.created_at),
        "updated_by": app.updated_by,
        "updated_at": timestamp(app.updated_at),
    }


def app_detail(app: App, api_base_url: str) -> dict[str, Any]:
    """An app as ``GET /apps/{id}`` shows it: the summary with its configuration and web app settings."""
    return {
        **app_summary(app),
        "status": app.status,
        "model_config": dict(app.model_config or {}) if app.mode in ("chat", "agent-chat", "completion") else None,
        "site": dict(app.site or {}),
        "site_code": app.site_code,
        "api_base_url": api_base_url,
        "api_rpm": app.api_rpm,
        "api_rph": app.api_rph,
    }


def _api_base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/v1"


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_apps(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_USE)
    query = query_params(request, AppListQuery)
    statement = select(App).where(App.tenant_id == member.tenant_id)
    if query.mode != "all":
        statement = statement.where(App.mode == query.mode)
    if query.name:
        statement = statement.where(func.lower(App.name).like(_like(query.name.lower()), escape="\\"))
    statement = statement.order_by(App.created_at.desc(), App.id.desc())
    async with member.state.db.session() as session:
        found = await paginate(session, statement, page=query.page, limit=query.limit)
    return respond(
        {
            "page": found.page,
            "limit": found.limit,
            "total": found.total,
            "has_more": found.has_more,
            "data": [app_summary(app) for app in found.data],
        }
    )


async def import_app(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_CREATE)
    body = await json_body(request, ImportRequest)
    if body.mode == "yaml-url":
        raise ApiError(
            400, "invalid_param", "mode yaml-url is not supported: send the DSL itself with mode yaml-content.",
            params="mode",
        )
    if not body.yaml_content or not body.yaml_content.strip():
        raise ApiError(400, "invalid_param", "yaml_content is required with mode yaml-content.", params="yaml_content")
    manager = member.state.apps(member.tenant_id)
    app = await manager.import_dsl(body.yaml_content, name=body.name or None, created_by=member.account.id)
    if body.description is not None:
        async with member.state.db.session() as session:
            await session.execute(update(App).where(App.id == app.id).values(description=body.description))
    found = _DSL_VERSION_LINE.search(body.yaml_content)
    return respond(
        {
            "id": str(uuid.uuid4()),
            "status": "completed",
            "app_mode": app.mode,
            "app_id": app.id,
            "current_dsl_version": DSL_VERSION,
            "imported_dsl_version": found.group(1) if found else "0.1.0",
            "error": "",
        }
    )


async def _app(member: Member, request: Request) -> App:
    return await member.state.apps(member.tenant_id).get(request.path_params["app_id"])


async def get_app(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_USE)
    return respond(app_detail(await _app(member, request), _api_base_url(request)))


async def delete_app(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_DELETE)
    app_id = request.path_params["app_id"]
    await member.state.apps(member.tenant_id).delete(app_id)
    member.state.forget_app(app_id)
    return Response(status_code=204)


async def export_app(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_EXPORT)
    query = query_params(request, ExportQuery)
    if query.include_secret:
        member.require(Action.APPS_EXPORT_SECRETS)
    text = await member.state.apps(member.tenant_id).export(
        request.path_params["app_id"], include_secrets=query.include_secret
    )
    return respond({"data": text})


async def publish(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_PUBLISH)
    body = await json_body(request, PublishRequest)
    app_id = request.path_params["app_id"]
    version = await member.state.apps(member.tenant_id).publish(
        app_id, marked_name=body.marked_name, marked_comment=body.marked_comment, published_by=member.account.id
    )
    member.state.forget_app(app_id)
    return respond(
        {
            "result": "success",
            "id": version.id,
            "version": version.version,
            "marked_name": version.marked_name,
            "marked_comment": version.marked_comment,
            "created_at": timestamp(version.created_at),
        }
    )


async def versions(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_VIEW_ALL)
    query = query_params(request, VersionsQuery)
    found = await member.state.apps(member.tenant_id).versions(request.path_params["app_id"])
    if query.named_only:
        found = [v for v in found if v.marked_name]
    start = (query.page - 1) * query.limit
    items = [
        {
            "id": v.id,
            "version": v.version,
            "marked_name": v.marked_name,
            "marked_comment": v.marked_comment,
            "created_at": timestamp(v.created_at),
            "current": v.current,
        }
        for v in found[start : start + query.limit]
    ]
    return respond(
        {"items": items, "page": query.page, "limit": query.limit, "has_more": start + query.limit < len(found)}
    )


async def restore(request: Request) -> Response:
    member = await workspace_member(request, Action.APPS_EDIT)
    app_id = request.path_params["app_id"]
    draft = await member.state.apps(member.tenant_id).restore(
        app_id, request.path_params["version_id"], restored_by=member.account.id
    )
    member.state.forget_app(app_id)
    return respond({"result": "success", "draft": {"id": draft.id, "version": draft.version}})


def key_view(row: ApiKey, token: str | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "token": token if token is not None else row.prefix,
        "last_used_at": timestamp(row.last_used_at),
        "created_at": timestamp(row.created_at),
    }


async def list_keys(request: Request) -> Response:
    member = await workspace_member(request, Action.APP_API_KEYS_VIEW)
    app = await _app(member, request)
    async with member.state.db.session() as session:
        rows = await session.scalars(
            select(ApiKey).where(ApiKey.app_id == app.id, ApiKey.type == "app").order_by(ApiKey.created_at, ApiKey.id)
        )
        keys = [key_view(row) for row in rows]
    return respond({"data": keys})


async def create_key(request: Request) -> Response:
    member = await workspace_member(request, Action.APP_API_KEYS_CREATE)
    app_id = request.path_params["app_id"]
    try:
        made = await member.state.apps(member.tenant_id).create_api_key(app_id, created_by=member.account.id)
    except ValueError as exc:  # the ten-key limit
        raise ApiError(400, "max_keys_exceeded", str(exc)) from None
    member.state.forget_app(app_id)
    async with member.state.db.session() as session:
        row = await session.get(ApiKey, made.id)
    assert row is not None
    return respond(key_view(row, made.token), 201)


async def delete_key(request: Request) -> Response:
    member = await workspace_member(request, Action.APP_API_KEYS_DELETE)
    app = await _app(member, request)
    key_id = request.path_params["key_id"]
    async with member.state.db.session() as session:
        row = await session.scalar(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.app_id == app.id, ApiKey.tenant_id == member.tenant_id)
        )
        if row is None:
            raise ApiError(404, "not_found", f"API key {key_id} not found for this app.")
        await session.delete(row)
    member.state.forget_app(app.id)
    return Response(status_code=204)


ROUTES = [
    endpoint("/apps", list_apps, ["GET"]),
    endpoint("/apps/imports", import_app, ["POST"]),
    endpoint("/apps/{app_id}", get_app, ["GET"]),
    endpoint("/apps/{app_id}", delete_app, ["DELETE"]),
    endpoint("/apps/{app_id}/export", export_app, ["GET"]),
    endpoint("/apps/{app_id}/workflows/publish", publish, ["POST"]),
    endpoint("/apps/{app_id}/workflows", versions, ["GET"]),
    endpoint("/apps/{app_id}/workflows/{version_id}/restore", restore, ["POST"]),
    endpoint("/apps/{app_id}/api-keys", list_keys, ["GET"]),
    endpoint("/apps/{app_id}/api-keys", create_key, ["POST"]),
    endpoint("/apps/{app_id}/api-keys/{key_id}", delete_key, ["DELETE"]),
]
