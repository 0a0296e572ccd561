"""What every Knowledge API route does first: authenticate the knowledge key, find the knowledge
operations of the server, and turn a knowledge error into the one error envelope.

A knowledge key (``dataset-…``) opens every knowledge base of its workspace (API-COMMON-AUTH); an
app key does not, nor a knowledge key an app's API. Records the key makes are the workspace owner's,
as in Dify.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ...knowledge.datasets import KnowledgeBases
from ...knowledge.errors import KnowledgeError, KnowledgeInputError
from ...knowledge.ports import Caller
from ...store import SqlApiKeyRecords, TenantMember
from ...tenancy import ApiKeyKind, InvalidApiKey, authenticate_api_key, bearer_token
from ..errors import ApiError
from ..service.state import ServiceState, service_state

__all__ = ["Endpoint", "knowledge_bases", "knowledge_caller", "knowledge_endpoint"]

Endpoint = Callable[[Request], Awaitable[Response]]


async def knowledge_caller(request: Request) -> Caller:
    """The workspace the request's knowledge key opens; 401 ``unauthorized`` without a valid one."""
    state = service_state(request)
    try:
        token = bearer_token(request.headers.get("authorization"))
        key = await authenticate_api_key(token, SqlApiKeyRecords(state.db), kind=ApiKeyKind.DATASET)
    except InvalidApiKey as exc:
        raise ApiError(401, "unauthorized", str(exc)) from None
    async with state.db.session() as session:
        owner = await session.scalar(
            select(TenantMember.account_id)
            .where(TenantMember.tenant_id == key.tenant_id, TenantMember.role == "owner")
            .order_by(TenantMember.id)
            .limit(1)
        )
    return Caller(tenant_id=key.tenant_id, account_id=owner)


def knowledge_bases(request: Request) -> KnowledgeBases:
    """The server's knowledge operations: the knowledge runtime's (which index and retrieve), or,
    on a server built without one, operations on the rows alone."""
    state: ServiceState = service_state(request)
    runtime = state.knowledge
    found = getattr(runtime, "bases", None)
    if isinstance(found, KnowledgeBases):
        return found
    cached = getattr(request.app.state, "knowledge_bases", None)
    if not isinstance(cached, KnowledgeBases):
        cached = KnowledgeBases(state.db, files=state.files, supervisor=state.supervisor)
        request.app.state.knowledge_bases = cached
    return cached


def api_error(exc: KnowledgeError) -> ApiError:
    """A knowledge error as the envelope: its code and status; an input error names its field."""
    extra: dict[str, Any] = {}
    if isinstance(exc, KnowledgeInputError) and exc.field:
        extra["params"] = exc.field
    return ApiError(exc.status, exc.code, exc.message, **extra)


def knowledge_endpoint(handler: Endpoint) -> Endpoint:
    """``handler`` with knowledge errors answered as the error envelope."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except KnowledgeError as exc:
            raise api_error(exc) from None

    return endpoint
