"""The errors a model provider raises, named as Dify names them (PLUG-MODEL-IFACE ``_invoke_error_mapping``).

Each is a :class:`~treadle_sdk.errors.PluginFailed` whose ``details["error_type"]`` carries the name
across the process boundary, so the kernel (retries, load balancing cooldowns, API error bodies)
can tell a rate limit from a bad request without parsing messages.
"""

from __future__ import annotations

from typing import Any

from .errors import PluginFailed

__all__ = [
    "CredentialsValidateFailedError",
    "InvokeAuthorizationError",
    "InvokeBadRequestError",
    "InvokeConnectionError",
    "InvokeError",
    "InvokeQuotaExceededError",
    "InvokeRateLimitError",
    "InvokeServerUnavailableError",
]


class InvokeError(PluginFailed):
    """A model call failed; subclasses say how. ``retry_after`` (seconds) when the provider said."""

    error_type = "InvokeError"

    def __init__(self, message: str, *, retry_after: float | None = None, details: dict[str, Any] | None = None,
                 plugin: str = "", call: str = "") -> None:
        merged = {"error_type": self.error_type, **(details or {})}
        if retry_after is not None:
            merged["retry_after"] = retry_after
        super().__init__(message, plugin=plugin, call=call, details=merged)
        self.retry_after = retry_after


class InvokeConnectionError(InvokeError):
    """The provider could not be reached (DNS, refused, TLS, timeout)."""

    error_type = "InvokeConnectionError"


class InvokeServerUnavailableError(InvokeError):
    """The provider answered 5xx or is overloaded."""

    error_type = "InvokeServerUnavailableError"


class InvokeRateLimitError(InvokeError):
    """The provider answered 429 (rate limited); ``retry_after`` when it said how long to wait."""

    error_type = "InvokeRateLimitError"


class InvokeAuthorizationError(InvokeError):
    """The credentials were refused (401/403)."""

    error_type = "InvokeAuthorizationError"


class InvokeBadRequestError(InvokeError):
    """The provider refused the request as malformed (400/404/422: unknown model, bad parameter)."""

    error_type = "InvokeBadRequestError"


class InvokeQuotaExceededError(InvokeError):
    """The account's quota or balance is used up."""

    error_type = "InvokeQuotaExceededError"


class CredentialsValidateFailedError(InvokeError):
    """``validate_credentials`` found the credentials unusable; the message says why."""

    error_type = "CredentialsValidateFailedError"
