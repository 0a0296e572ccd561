"""The signed-in account's workspaces, the current one, and switching (WS-WORKSPACE).

The current workspace is the one the session names; switching issues a new session for the other
workspace (and remembers it as the account's current one for the next sign-in).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import Response

from ...store import Tenant, TenantMember
from ..errors import ApiError
from ..service.routes.common import json_body, respond
from .auth import set_session_cookie
from .common import endpoint, signed_in, timestamp, workspace_member

__all__ = ["ROUTES", "workspace_view"]


class SwitchRequest(BaseModel):
    """``POST /workspaces/switch``."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: str = Field(min_length=1, max_length=64)


def workspace_view(tenant: Tenant, *, current: bool, role: str | None = None) -> dict[str, Any]:
    """A workspace as the console shows it (Dify's fields)."""
    view: dict[str, Any] = {
        "id": tenant.id,
        "name": tenant.name,
        "plan": "community",
        "status": tenant.status,
        "created_at": timestamp(tenant.created_at),
        "current": current,
    }
    if role is not None:
        view["role"] = role
        view["custom_config"] = dict(tenant.custom_config or {})
    return view


async def list_workspaces(request: Request) -> Response:
    caller = await signed_in(request)
    async with caller.state.db.session() as session:
        rows = await session.execute(
            select(Tenant)
            .join(TenantMember, TenantMember.tenant_id == Tenant.id)
            .where(TenantMember.account_id == caller.account.id)
            .order_by(Tenant.created_at, Tenant.id)
        )
        tenants = list(rows.scalars())
    return respond(
        {"workspaces": [workspace_view(t, current=t.id == caller.claims.tenant_id) for t in tenants]}
    )


async def current_workspace(request: Request) -> Response:
    member = await workspace_member(request)
    async with member.state.db.session() as session:
        tenant = await session.get(Tenant, member.tenant_id)
    if tenant is None:
        raise ApiError(404, "not_found", "The current workspace no longer exists; sign in again.")
    return respond(workspace_view(tenant, current=True, role=member.role.value))


async def switch_workspace(request: Request) -> Response:
    caller = await signed_in(request)
    body = await json_body(request, SwitchRequest)
    async with caller.state.db.session() as session:
        row = await session.execute(
            select(Tenant, TenantMember.role)
            .join(TenantMember, TenantMember.tenant_id == Tenant.id)
            .where(TenantMember.account_id == caller.account.id, Tenant.id == body.tenant_id)
        )
        found = row.first()
        if found is None:
            raise ApiError(404, "not_found", f"Workspace {body.tenant_id} not found among your workspaces.")
        tenant, role = found
        await session.execute(
            update(TenantMember)
            .where(TenantMember.account_id == caller.account.id)
            .values(current=TenantMember.tenant_id == tenant.id)
        )
    issued = caller.state.signer.issue(caller.account.id, tenant.id, caller.account.session_version)
    response = respond(
        {
            "result": "success",
            "new_tenant": workspace_view(tenant, current=True, role=role),
            "data": {"access_token": issued.token, "expires_at": issued.claims.expires_at},
        }
    )
    set_session_cookie(response, request, issued, caller.state)
    return response


ROUTES = [
    endpoint("/workspaces", list_workspaces, ["GET"]),
    endpoint("/workspaces/current", current_workspace, ["GET"]),
    endpoint("/workspaces/switch", switch_workspace, ["POST"]),
]
