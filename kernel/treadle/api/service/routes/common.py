"""What every Service API route does first: authenticate the app key, read the body or the query
string, check the app's mode, and answer with JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from ...guards import check_no_nul
from .. import errors
from ..requests import parse
from ..state import ServiceApp, ServiceState, service_state

__all__ = ["JSONBody", "authenticated", "json_body", "query_params", "require_chat", "require_workflow",
           "respond"]

M = TypeVar("M", bound=BaseModel)

#: Chat routes (API-COMMON-ROUTE): chat, agent-chat and advanced-chat apps.
CHAT_MODES = frozenset({"chat", "agent-chat", "advanced-chat"})


class JSONBody(Response):
    """A JSON response encoded with orjson (datetimes as ISO strings, decimals as strings)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_fallback, option=orjson.OPT_NON_STR_KEYS)


def _fallback(value: Any) -> Any:
    return str(value)


def respond(content: Any, status: int = 200) -> JSONBody:
    """``content`` as a JSON response."""
    return JSONBody(content, status_code=status)


async def authenticated(request: Request) -> tuple[ServiceState, ServiceApp]:
    """The shared state and the app the request's key opens (401 otherwise)."""
    state = service_state(request)
    return state, await state.authenticate(request)


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``; ``invalid_param`` naming what is wrong otherwise."""
    raw = await request.body()
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise errors.INVALID_PARAM.error(f"The request body is not valid JSON: {exc}.") from None
        check_no_nul(raw, data)
    return parse(model, data)


def query_params(request: Request, model: type[M]) -> M:
    """The query string as ``model`` (a repeated parameter keeps its last value)."""
    data: Mapping[str, Any] = dict(request.query_params)
    return parse(model, data, where="query")


def require_chat(app: ServiceApp) -> None:
    """400 ``not_chat_app`` unless the app is a chat, agent-chat or advanced-chat app."""
    if app.mode not in CHAT_MODES:
        raise errors.NOT_CHAT_APP.error()


def require_workflow(app: ServiceApp, *, chatflow: bool = False) -> None:
    """400 ``not_workflow_app`` unless the app is a workflow (or, with ``chatflow``, an advanced-chat) app."""
    allowed = ("workflow", "advanced-chat") if chatflow else ("workflow",)
    if app.mode not in allowed:
        raise errors.NOT_WORKFLOW_APP.error()
