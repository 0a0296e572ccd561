"""Signing in and out of the console, renewing a session, and the signed-in account's profile.

A sign-in answers with the session token twice: as an HttpOnly cookie for browsers and in the body
(``data.access_token``) for scripts, which send it as ``Authorization: Bearer``. Signing out raises
the account's session version, which ends every session of the account at once (tokens are not
stored, so one cannot be ended alone).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import Response

from ...store import Account, TenantMember, utcnow
from ...tenancy import MAX_PASSWORD_LENGTH, InvalidSession, IssuedSession, SessionClaims
from ..errors import ApiError, error_response
from ..service.routes.common import json_body, respond
from .common import SESSION_COOKIE, endpoint, session_token, signed_in, timestamp
from .state import ConsoleState, console_state

__all__ = ["ROUTES", "account_profile", "set_session_cookie"]

#: Said of every wrong email or password alike, so a sign-in does not tell which emails have accounts.
_MISMATCH = "Invalid email or password."


class LoginRequest(BaseModel):
    """``POST /login``."""

    model_config = ConfigDict(extra="ignore")

    email: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    remember_me: bool = False


def set_session_cookie(response: Response, request: Request, issued: IssuedSession, state: ConsoleState) -> None:
    """Put the session in the HttpOnly cookie; it outlives the token so that an expired token can
    still be renewed (``POST /refresh-token``) until the sign-in is too old."""
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=state.signer.max_age,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )


def _session_body(issued: IssuedSession) -> dict[str, Any]:
    return {"result": "success", "data": {"access_token": issued.token, "expires_at": issued.claims.expires_at}}


async def _verify(state: ConsoleState, email: str, password: str) -> Account | None:
    """The account ``email`` if ``password`` is its password (the hash is checked off the event loop,
    and checked against a decoy when there is no such account, taking the same time)."""
    async with state.db.session() as session:
        account = await session.scalar(select(Account).where(Account.email == email))
    stored = account.password_hash if account is not None else None
    matches = await asyncio.to_thread(state.hasher.verify, stored, password)
    return account if matches and account is not None else None


async def _sign_in(state: ConsoleState, account: Account, password: str) -> IssuedSession:
    """Record the sign-in and issue a session in the account's current workspace (or its oldest)."""
    async with state.db.session() as session:
        memberships = list(
            await session.scalars(
                select(TenantMember)
                .where(TenantMember.account_id == account.id)
                .order_by(TenantMember.current.desc(), TenantMember.created_at, TenantMember.id)
            )
        )
        if not memberships:
            raise ApiError(
                403, "forbidden", "This account belongs to no workspace; ask a workspace owner to invite it."
            )
        values: dict[str, Any] = {"last_login_at": utcnow(), "last_active_at": utcnow()}
        if account.status in ("pending", "uninitialized"):
            values["status"] = "active"
        if account.password_hash is not None and state.hasher.needs_rehash(account.password_hash):
            values["password_hash"] = await asyncio.to_thread(state.hasher.hash, password)
        await session.execute(update(Account).where(Account.id == account.id).values(**values))
    return state.signer.issue(account.id, memberships[0].tenant_id, account.session_version)


async def login(request: Request) -> Response:
    state = console_state(request)
    body = await json_body(request, LoginRequest)
    email = body.email.strip().lower()
    wait = await state.throttle.retry_after(email)
    if wait > 0:
        seconds = math.ceil(wait)
        refused = error_response(
            429, "too_many_requests", f"Too many failed sign-ins for this email; try again in {seconds} s."
        )
        refused.headers["Retry-After"] = str(seconds)
        return refused
    account = await _verify(state, email, body.password)
    if account is None:
        await state.throttle.failed(email)
        raise ApiError(401, "email_or_password_mismatch", _MISMATCH)
    if account.status in ("banned", "closed"):
        raise ApiError(403, "account_banned", f"This account is {account.status}.")
    await state.throttle.succeeded(email)
    issued = await _sign_in(state, account, body.password)
    response = respond(_session_body(issued))
    set_session_cookie(response, request, issued, state)
    return response


async def logout(request: Request) -> Response:
    """End every session of the account (when the request carries a genuine one) and clear the cookie."""
    state = console_state(request)
    token = session_token(request)
    if token is not None:
        claims: SessionClaims | None
        try:
            claims = state.signer.verify(token, for_renewal=True)
        except InvalidSession:  # a token that is no longer good has nothing left to end
            claims = None
        if claims is not None:
            async with state.db.session() as session:
                await session.execute(
                    update(Account)
                    .where(Account.id == claims.account_id, Account.session_version == claims.session_version)
                    .values(session_version=Account.session_version + 1)
                )
    response = respond({"result": "success"})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def refresh_token(request: Request) -> Response:
    """A fresh token for a genuine session (expired or not) until its sign-in is too old."""
    state = console_state(request)
    token = session_token(request)
    if token is None:
        raise ApiError(401, "unauthorized", "Sign in first: no session cookie or Bearer access token was sent.")
    claims = state.signer.verify(token, for_renewal=True)
    async with state.db.session() as session:
        version = await session.scalar(select(Account.session_version).where(Account.id == claims.account_id))
    issued = state.signer.renew(claims, session_version=version)
    response = respond(_session_body(issued))
    set_session_cookie(response, request, issued, state)
    return response


def account_profile(account: Account) -> dict[str, Any]:
    """The account as ``GET /account/profile`` shows it (Dify's fields)."""
    return {
        "id": account.id,
        "name": account.name,
        "avatar": None,
        "avatar_url": None,
        "email": account.email,
        "is_password_set": account.password_hash is not None,
        "interface_language": account.interface_language,
        "interface_theme": "light",
        "timezone": account.timezone,
        "status": account.status,
        "last_login_at": timestamp(account.last_login_at),
        "last_login_ip": None,
        "last_active_at": timestamp(account.last_active_at),
        "created_at": timestamp(account.created_at),
    }


async def profile(request: Request) -> Response:
    caller = await signed_in(request)
    return respond(account_profile(caller.account))


ROUTES = [
    endpoint("/login", login, ["POST"]),
    endpoint("/logout", logout, ["POST"]),
    endpoint("/refresh-token", refresh_token, ["POST"]),
    endpoint("/account/profile", profile, ["GET"]),
]
