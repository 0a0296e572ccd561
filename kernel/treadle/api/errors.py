"""One JSON error envelope for every endpoint: Dify's ``{"code", "message", "status"}`` (API-COMMON-ERR)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from treadle_sdk.errors import ErrorCode, PluginError

__all__ = ["ApiError", "error_response", "exception_handlers"]

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_param",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    422: "invalid_param",
    429: "too_many_requests",
    500: "internal_server_error",
    503: "service_unavailable",
}

_PLUGIN_STATUS = {
    ErrorCode.INVALID_ARGUMENT: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.DEADLINE_EXCEEDED: 504,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.UNIMPLEMENTED: 501,
}


class ApiError(Exception):
    """An error an endpoint answers with: HTTP status, snake_case code, and a message for people."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "status": status, **extra}, status_code=status)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail))


async def _plugin_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PluginError)
    status = _PLUGIN_STATUS.get(exc.code, 500)
    return error_response(status, f"plugin_{exc.code.name.lower()}", str(exc), plugin=exc.plugin, call=exc.call)


#: PostgreSQL's character_not_in_repertoire: a NUL character in text, which it cannot store.
_NUL_IN_TEXT = "22021"


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if _sqlstate(exc) == _NUL_IN_TEXT:  # got past the guards (a form field): still the client's input
        return error_response(400, "invalid_param", "A value of the request contains the NUL character (U+0000), "
                              "which text may not contain.")
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_server_error", "The server failed to handle the request.")


exception_handlers = {
    ApiError: _api_error,
    HTTPException: _http_error,
    PluginError: _plugin_error,
    Exception: _unexpected,
}
