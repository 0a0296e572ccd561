"""From an Anthropic error answer (an HTTP status, or an ``error`` event mid-stream) to the typed
model errors the kernel understands (InvokeRateLimitError and the like)."""

from __future__ import annotations

import json
from typing import Any

from treadle_sdk.model_errors import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

__all__ = ["error_from_body", "error_from_event", "error_from_status", "redact"]

#: Anthropic's ``error.type`` values, for errors that arrive without a status (mid-stream).
_BY_TYPE: dict[str, type[InvokeError]] = {
    "invalid_request_error": InvokeBadRequestError,
    "not_found_error": InvokeBadRequestError,
    "request_too_large": InvokeBadRequestError,
    "authentication_error": InvokeAuthorizationError,
    "permission_error": InvokeAuthorizationError,
    "rate_limit_error": InvokeRateLimitError,
    "api_error": InvokeServerUnavailableError,
    "overloaded_error": InvokeServerUnavailableError,
}


def redact(text: str, secret: str) -> str:
    """``text`` with ``secret`` masked, so that a key echoed by a server never reaches a message."""
    return text.replace(secret, "***") if secret else text


def _class_for_status(status: int) -> type[InvokeError]:
    if status in (401, 403):
        return InvokeAuthorizationError
    if status == 429:
        return InvokeRateLimitError
    if status >= 500:
        return InvokeServerUnavailableError
    if 400 <= status < 500:
        return InvokeBadRequestError
    return InvokeError


def error_from_body(body: bytes) -> tuple[str, str]:
    """The ``(type, message)`` of an ``{"type": "error", "error": {...}}`` body, or of a body that
    is not one (a proxy's HTML page): its first 200 characters."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = data["error"]
        return str(error.get("type", "")), str(error.get("message", ""))
    return "", body[:200].decode("utf-8", "replace").strip()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_status(status: int, body: bytes, retry_after: str | None, *, model: str, secret: str) -> InvokeError:
    """The error for an HTTP ``status`` answered by the Messages API to a call on ``model``."""
    kind, message = error_from_body(body)
    what = f" ({kind})" if kind else ""
    text = redact(f"Anthropic answered HTTP {status}{what} for model {model!r}: {message or 'no message'}", secret)
    return _class_for_status(status)(text, retry_after=_retry_after(retry_after), details={"status": status})


def error_from_event(data: Any, *, model: str, secret: str) -> InvokeError:
    """The error for an ``error`` event the API sent in the middle of a stream."""
    error = data.get("error") if isinstance(data, dict) else None
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type", ""))
    message = str(error.get("message", "")) or "no message"
    text = redact(f"Anthropic stream for model {model!r} failed ({kind or 'error'}): {message}", secret)
    return _BY_TYPE.get(kind, InvokeServerUnavailableError)(text, details={"anthropic_error": kind})
