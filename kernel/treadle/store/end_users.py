"""End users: the ``user`` string a Service API (or web app) caller names, as an ``end_users`` row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .apps import EndUser

__all__ = ["ANONYMOUS_USER", "get_or_create_end_user"]

#: The session id of the end user a request without ``user`` runs as (Dify's ``DEFAULT-USER``).
ANONYMOUS_USER = "DEFAULT-USER"
_MAX_USER_LENGTH = 255


async def get_or_create_end_user(
    session: AsyncSession, app_id: str, tenant_id: str, user: str | None, *, user_type: str = "service_api"
) -> EndUser:
    """The end user of ``app_id`` whose ``user`` string is ``user``, made on first sight (``user_type``
    is ``service_api`` or ``browser``).

    An empty or missing ``user`` is the app's anonymous user (``DEFAULT-USER``). Two requests
    creating the same user at once both get the one row: the loser of the insert reads the winner's.
    """
    if user is not None and not isinstance(user, str):
        raise ValueError(f"user: must be a string, got {type(user).__name__}")
    anonymous = not user
    session_id = ANONYMOUS_USER if anonymous else str(user)
    if len(session_id) > _MAX_USER_LENGTH:
        raise ValueError(f"user: at most {_MAX_USER_LENGTH} characters, got {len(session_id)}")
    query = select(EndUser).where(EndUser.app_id == app_id, EndUser.session_id == session_id)
    found = await session.scalar(query)
    if found is not None:
        if found.tenant_id != tenant_id:
            raise ValueError(f"app {app_id!r} does not belong to workspace {tenant_id!r}")
        return found
    end_user = EndUser(
        tenant_id=tenant_id, app_id=app_id, session_id=session_id, type=user_type, is_anonymous=anonymous
    )
    try:
        async with session.begin_nested():
            session.add(end_user)
    except IntegrityError as exc:
        found = await session.scalar(query)
        if found is None:
            raise ValueError(
                f"cannot make end user {session_id!r} of app {app_id!r} in workspace {tenant_id!r}: "
                "the app or the workspace does not exist"
            ) from exc
        return found
    return end_user
