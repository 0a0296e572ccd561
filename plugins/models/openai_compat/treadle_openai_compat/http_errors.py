"""Turn HTTP failures of an OpenAI-compatible server into the SDK's ``Invoke*`` errors.

Messages carry the server's own explanation (OpenAI's ``{"error": {"message": ...}}``) but never the
API key: some servers echo the key they refused, so it is blanked out of every message.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx
from treadle_sdk.model_errors import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeQuotaExceededError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

__all__ = ["error_for_response", "error_for_transport", "redact", "retry_after_seconds"]


def redact(text: str, api_key: str | None) -> str:
    """``text`` with every occurrence of ``api_key`` replaced by ``***``."""
    return text.replace(api_key, "***") if api_key else text


def retry_after_seconds(value: str | None) -> float | None:
    """The ``Retry-After`` header in seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(body: bytes) -> tuple[str, str | None]:
    text = body.decode("utf-8", "replace").strip()
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text[:500], None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return str(error.get("message") or text[:500]), None if code is None else str(code)
    if isinstance(error, str):
        return error, None
    if isinstance(data, dict) and isinstance(data.get("message") or data.get("detail"), str):
        return str(data.get("message") or data.get("detail")), None
    return text[:500], None


def error_for_response(response: httpx.Response, body: bytes, where: str, api_key: str | None) -> InvokeError:
    """The error for a response with status ≥ 400 whose body is ``body``; ``where`` names the call."""
    status = response.status_code
    message, code = _server_message(body)
    text = redact(f"{where} answered {status}: {message or response.reason_phrase}", api_key)
    details = {"status": status, **({"code": code} if code else {})}
    if status == 429:
        if code == "insufficient_quota":
            return InvokeQuotaExceededError(text, details=details)
        return InvokeRateLimitError(
            text, retry_after=retry_after_seconds(response.headers.get("retry-after")), details=details
        )
    if status in (401, 403):
        return InvokeAuthorizationError(text, details=details)
    if status == 402:
        return InvokeQuotaExceededError(text, details=details)
    if status >= 500:
        return InvokeServerUnavailableError(text, details=details)
    return InvokeBadRequestError(text, details=details)


def error_for_transport(exc: httpx.TransportError, where: str, api_key: str | None) -> InvokeConnectionError:
    """The error for a request that got no answer (refused, DNS, TLS, timeout)."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not connect"
    detail = str(exc) or type(exc).__name__
    return InvokeConnectionError(redact(f"{where} {kind}: {detail}", api_key), details={"reason": type(exc).__name__})
