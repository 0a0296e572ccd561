"""What every console route does first: find the signed-in account from its session (the session
cookie, or ``Authorization: Bearer``), its role in the current workspace, check that role against the
permission matrix, and turn the errors of the layers below into the ``{code, message, status}`` envelope.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...graph import Problem
from ...models.errors import CredentialNotFound, WorkspaceSettingsError
from ...runtime import AppImportError, AppModeError, AppNotFound
from ...runtime.mcp_servers import McpServerError
from ...store import Account, InvalidPage, TenantMember
from ...tenancy import (
    Action,
    InvalidSession,
    PermissionDenied,
    Role,
    SessionClaims,
    TenancyError,
    UnknownRole,
    WeakPassword,
    require,
)
from ...tenancy import (
    SecretKeyError as TenancySecretKeyError,
)
from ..errors import ApiError
from .state import ConsoleState, console_state

__all__ = [
    "SESSION_COOKIE",
    "Caller",
    "Handler",
    "Member",
    "console_errors",
    "endpoint",
    "problems",
    "session_token",
    "signed_in",
    "timestamp",
    "workspace_member",
]

#: The cookie that carries the console session (HttpOnly; the same token is usable as a Bearer token).
SESSION_COOKIE = "access_token"

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Caller:
    """A signed-in account: its row (as read for this request) and its session's claims."""

    state: ConsoleState
    account: Account
    claims: SessionClaims


@dataclass(frozen=True)
class Member:
    """A signed-in account acting in its current workspace with ``role``."""

    state: ConsoleState
    account: Account
    tenant_id: str
    role: Role

    def require(self, action: Action) -> None:
        """403 ``forbidden`` unless this member's role may do ``action`` (the roles matrix)."""
        require(self.role, action)


def session_token(request: Request) -> str | None:
    """The session token the request carries: an ``Authorization: Bearer`` header first, else the cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "The Authorization header must be 'Bearer <access_token>'.")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


async def signed_in(request: Request) -> Caller:
    """The account whose session the request carries; 401 ``unauthorized`` when there is none, it is
    not genuine, expired, or ended (signed out, password changed, account removed)."""
    state = console_state(request)
    token = session_token(request)
    if token is None:
        raise ApiError(401, "unauthorized", "Sign in first: no session cookie or Bearer access token was sent.")
    with console_errors():
        claims = state.signer.verify(token)
        async with state.db.session() as session:
            account = await session.get(Account, claims.account_id)
        claims.ensure_current(None if account is None else account.session_version)
    assert account is not None
    if account.status in ("banned", "closed"):
        raise ApiError(403, "account_banned", f"This account is {account.status}.")
    return Caller(state, account, claims)


async def workspace_member(request: Request, action: Action | None = None) -> Member:
    """The signed-in account in its current workspace, after checking that its role there may do
    ``action``; 403 ``forbidden`` when it is no longer a member or its role may not."""
    caller = await signed_in(request)
    tenant_id = caller.claims.tenant_id
    async with caller.state.db.session() as session:
        role = await session.scalar(
            select(TenantMember.role).where(
                TenantMember.tenant_id == tenant_id, TenantMember.account_id == caller.account.id
            )
        )
    if role is None:
        raise ApiError(
            403,
            "forbidden",
            "You are no longer a member of this workspace; switch to another one (POST /workspaces/switch).",
        )
    member = Member(caller.state, caller.account, tenant_id, Role(role))
    if action is not None:
        with console_errors():
            member.require(action)
    return member


def problems(items: list[Problem]) -> list[dict[str, Any]]:
    """Problems of a DSL as the API lists them: message, DSL path and node id."""
    return [
        {"message": p.message, "path": p.path, "node_id": p.node_id, "warning": p.warning} for p in items
    ]


@contextmanager
def console_errors() -> Iterator[None]:
    """Turn the errors of tenancy, apps, model settings and pagination into the API's error envelope."""
    try:
        yield
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", exc.message) from None
    except InvalidSession as exc:
        raise ApiError(401, "unauthorized", exc.message) from None
    except (UnknownRole, WeakPassword) as exc:
        raise ApiError(400, "invalid_param", exc.message) from None
    except TenancySecretKeyError as exc:  # the server secret is missing or not the one values were saved with
        raise ApiError(500, "internal_server_error", exc.message) from None
    except TenancyError as exc:
        raise ApiError(400, "invalid_param", exc.message) from None
    except AppNotFound as exc:
        code = "app_not_found" if exc.kind == "app" else "not_found"
        raise ApiError(404, code, f"{exc.kind.capitalize()} {exc.record_id} not found in this workspace.") from None
    except AppModeError as exc:
        raise ApiError(400, "not_workflow_app", str(exc)) from None
    except AppImportError as exc:
        raise ApiError(400, "invalid_param", str(exc), problems=problems(exc.problems)) from None
    except McpServerError as exc:
        raise ApiError(400, "invalid_param", exc.message, params=exc.field or None) from None
    except InvalidPage as exc:
        message = f"{exc.field}: {exc.reason} (in the query string)."
        raise ApiError(400, "invalid_param", message, params=exc.field) from None
    except CredentialNotFound as exc:
        raise ApiError(404, "not_found", exc.message) from None
    except WorkspaceSettingsError as exc:
        raise ApiError(400, "invalid_param", exc.message, params=exc.field or None) from None


def endpoint(path: str, handler: Handler, methods: list[str]) -> Route:
    """A console route whose errors from the layers below answer in the envelope."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        with console_errors():
            return await handler(request)

    return Route(path, wrapped, methods=methods)


def timestamp(value: datetime | None) -> int | None:
    """A datetime as Unix seconds (Dify's console timestamps), or None."""
    return None if value is None else int(value.timestamp())
