"""Knowledge API keys of the current workspace (``/datasets/api-keys``): one key opens every knowledge
base the workspace can see (API-COMMON-AUTH); stored as a digest, the token shown once."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from ...store import ApiKey
from ...tenancy import Action, ApiKeyKind, issue_api_key
from ..errors import ApiError
from ..service.routes.common import respond
from .apps import key_view
from .common import endpoint, workspace_member

__all__ = ["ROUTES"]


async def list_keys(request: Request) -> Response:
    member = await workspace_member(request, Action.DATASET_API_KEYS_MANAGE)
    async with member.state.db.session() as session:
        rows = await session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == member.tenant_id, ApiKey.type == ApiKeyKind.DATASET.value)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        keys = [key_view(row) for row in rows]
    return respond({"data": keys})


async def create_key(request: Request) -> Response:
    member = await workspace_member(request, Action.DATASET_API_KEYS_MANAGE)
    async with member.state.db.session() as session:
        existing = await session.scalar(
            select(func.count()).select_from(ApiKey)
            .where(ApiKey.tenant_id == member.tenant_id, ApiKey.type == ApiKeyKind.DATASET.value)
        )
        try:
            issued = issue_api_key(ApiKeyKind.DATASET, existing or 0)
        except ValueError as exc:  # the ten-key limit
            raise ApiError(400, "max_keys_exceeded", str(exc)) from None
        row = ApiKey(tenant_id=member.tenant_id, type=ApiKeyKind.DATASET.value, token_hash=issued.digest,
                     prefix=issued.display, created_by=member.account.id)
        session.add(row)
        await session.flush()
        view = key_view(row, issued.token)
    return respond(view, 201)


async def delete_key(request: Request) -> Response:
    member = await workspace_member(request, Action.DATASET_API_KEYS_MANAGE)
    key_id = request.path_params["key_id"]
    async with member.state.db.session() as session:
        row = await session.scalar(select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.tenant_id == member.tenant_id, ApiKey.type == ApiKeyKind.DATASET.value
        ))
        if row is None:
            raise ApiError(404, "not_found", f"Knowledge API key {key_id} not found in this workspace.")
        await session.delete(row)
    return Response(status_code=204)


ROUTES = [
    endpoint("/datasets/api-keys", list_keys, ["GET"]),
    endpoint("/datasets/api-keys", create_key, ["POST"]),
    endpoint("/datasets/api-keys/{key_id}", delete_key, ["DELETE"]),
]
