"""Input the stores cannot hold, refused at the door: a NUL character (U+0000).

PostgreSQL's text cannot store NUL (SQLite can), so a NUL that reached the database answered 500 on
PostgreSQL and was kept on SQLite. Refusing it in the path, the query string and JSON bodies makes
both answer alike: 400 ``invalid_param`` saying where. A NUL that gets past these (a form field) and
reaches PostgreSQL is answered 400 too, by the error handler (:mod:`treadle.api.errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ApiError

__all__ = ["NUL_MESSAGE", "RejectNul", "check_no_nul"]

NUL_MESSAGE = "text may not contain the NUL character (U+0000)"


def _invalid(where: str) -> dict[str, Any]:
    return {"code": "invalid_param", "message": f"{where}: {NUL_MESSAGE}.", "status": 400}


class RejectNul:
    """ASGI middleware: 400 for a NUL in the (decoded) path or the query string of an HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = None
            if "\x00" in scope.get("path", ""):
                where = "the path"
            elif b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
                where = "the query string"
            if where is not None:
                await JSONResponse(_invalid(where), status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if "\x00" in str(key):
                return f"{path}.{key!r}" if path else repr(key)
            found = _nul_path(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def check_no_nul(raw: bytes, data: Any) -> None:
    """Raise 400 ``invalid_param`` naming the field when the JSON body ``data`` (decoded from ``raw``)
    holds a NUL anywhere; the bytes are looked at first, so a body without one costs a scan."""
    if b"\\u0000" not in raw:
        return
    where = _nul_path(data, "")
    if where is None:
        return  # the bytes were an escaped backslash followed by "u0000": plain text
    raise ApiError(400, "invalid_param", f"{where}: {NUL_MESSAGE} (in the JSON body).", params=where)
