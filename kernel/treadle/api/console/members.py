"""The members of the current workspace: listing, inviting, changing roles, removing (WS-MEMBERS-ROLES).

Who may do what is the tenancy layer's roles matrix: owners and admins invite (to any role but owner),
only the owner changes roles and removes members, and nobody changes the owner's role or removes the
owner, so a workspace keeps exactly one owner. We send no email: a new account gets a generated
password, returned once in the invitation result.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ...runtime import generate_password
from ...store import Account, TenantMember
from ...tenancy import Action, Role, require_invite, require_member_removal, require_role_change
from ..errors import ApiError
from ..service.routes.common import json_body, respond
from .common import Member, endpoint, timestamp, workspace_member

__all__ = ["ROUTES", "Invitation", "invite"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_INVITES = 100


class InviteRequest(BaseModel):
    """``POST /workspaces/current/members/invite-email``."""

    model_config = ConfigDict(extra="ignore")

    emails: list[str] = Field(min_length=1, max_length=_MAX_INVITES)
    role: str
    language: str | None = None


class RoleRequest(BaseModel):
    """``PUT /workspaces/current/members/{member_id}/update-role``."""

    model_config = ConfigDict(extra="ignore")

    role: str


@dataclass(frozen=True)
class Invitation:
    """What became of one invited email: ``password`` is set only for an account made by the invitation."""

    email: str
    status: str
    account_id: str = ""
    password: str | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"status": self.status, "email": self.email}
        if self.status == "success":
            result["account_id"] = self.account_id
            result["url"] = None
            if self.password is not None:
                result["password"] = self.password
        else:
            result["message"] = self.message
        return result

    def __repr__(self) -> str:  # keeps a generated password out of logs and tracebacks
        return f"Invitation(email={self.email!r}, status={self.status!r})"


def _emails(given: list[str]) -> list[str]:
    """The invited emails, lowercased, without repeats; 400 naming the first that is not an email."""
    found: list[str] = []
    for index, raw in enumerate(given):
        email = raw.strip().lower()
        if not _EMAIL.match(email) or len(email) > 255:
            raise ApiError(400, "invalid_param", f"emails[{index}]: {raw!r} is not an email address.", params="emails")
        if email not in found:
            found.append(email)
    return found


async def invite(member: Member, emails: list[str], role: Role) -> list[Invitation]:
    """Add each email to the member's workspace with ``role``, making the accounts that do not exist."""
    results = []
    for email in emails:
        try:
            async with member.state.db.session() as session:
                invitation = await _invite_one(session, member, email, role)
        except IntegrityError:  # the same email invited by two requests at once: one of them wins
            invitation = Invitation(email, "failed", message="This email was being invited at the same time; retry.")
        results.append(invitation)
    return results


async def _invite_one(session: AsyncSession, member: Member, email: str, role: Role) -> Invitation:
    account = await session.scalar(select(Account).where(Account.email == email))
    password: str | None = None
    if account is None:
        password = generate_password()
        password_hash = await asyncio.to_thread(member.state.hasher.hash, password)
        account = Account(email=email, name=email.split("@")[0], password_hash=password_hash, status="pending")
        session.add(account)
        await session.flush()
    else:
        already = await session.scalar(
            select(TenantMember.id).where(
                TenantMember.tenant_id == member.tenant_id, TenantMember.account_id == account.id
            )
        )
        if already is not None:
            return Invitation(email, "failed", message="This account is already a member of the workspace.")
    session.add(
        TenantMember(tenant_id=member.tenant_id, account_id=account.id, role=role.value, invited_by=member.account.id)
    )
    return Invitation(email, "success", account_id=account.id, password=password)


async def _target(session: AsyncSession, member: Member, account_id: str) -> TenantMember:
    row = await session.scalar(
        select(TenantMember).where(TenantMember.tenant_id == member.tenant_id, TenantMember.account_id == account_id)
    )
    if row is None:
        raise ApiError(404, "member_not_found", f"Member {account_id} not found in this workspace.")
    return row


async def list_members(request: Request) -> Response:
    member = await workspace_member(request, Action.MEMBERS_VIEW)
    async with member.state.db.session() as session:
        rows = await session.execute(
            select(Account, TenantMember)
            .join(TenantMember, TenantMember.account_id == Account.id)
            .where(TenantMember.tenant_id == member.tenant_id)
            .order_by(TenantMember.created_at, Account.email)
        )
        accounts = [
            {
                "id": account.id,
                "name": account.name,
                "avatar": None,
                "avatar_url": None,
                "email": account.email,
                "last_login_at": timestamp(account.last_login_at),
                "last_active_at": timestamp(account.last_active_at),
                "created_at": timestamp(membership.created_at),
                "role": membership.role,
                "status": account.status,
            }
            for account, membership in rows.all()
        ]
    return respond({"result": "success", "accounts": accounts})


async def invite_members(request: Request) -> Response:
    member = await workspace_member(request, Action.MEMBERS_INVITE)
    body = await json_body(request, InviteRequest)
    role = Role.parse(body.role)
    require_invite(member.role, role)
    results = await invite(member, _emails(body.emails), role)
    return respond(
        {"result": "success", "invitation_results": [r.as_dict() for r in results], "tenant_id": member.tenant_id},
        201,
    )


async def update_role(request: Request) -> Response:
    member = await workspace_member(request, Action.MEMBERS_CHANGE_ROLE)
    body = await json_body(request, RoleRequest)
    new_role = Role.parse(body.role)
    account_id = request.path_params["member_id"]
    async with member.state.db.session() as session:
        target = await _target(session, member, account_id)
        require_role_change(member.role, Role(target.role), new_role, is_self=account_id == member.account.id)
        target.role = new_role.value
    return respond({"result": "success"})


async def remove_member(request: Request) -> Response:
    member = await workspace_member(request, Action.MEMBERS_REMOVE)
    account_id = request.path_params["member_id"]
    async with member.state.db.session() as session:
        target = await _target(session, member, account_id)
        require_member_removal(member.role, Role(target.role), is_self=account_id == member.account.id)
        await session.execute(delete(TenantMember).where(TenantMember.id == target.id))
    return Response(status_code=204)


ROUTES = [
    endpoint("/workspaces/current/members", list_members, ["GET"]),
    endpoint("/workspaces/current/members/invite-email", invite_members, ["POST"]),
    endpoint("/workspaces/current/members/{member_id}/update-role", update_role, ["PUT"]),
    endpoint("/workspaces/current/members/{member_id}", remove_member, ["DELETE"]),
]
