"""Errors of the workspace settings, and the error types every failed model call leaves with.

Saving settings fails with a :class:`WorkspaceSettingsError` that names the provider and the field.
A failed model call leaves :class:`~treadle.models.ModelManager` as a plugin error whose
``details["error_type"]`` is one of Dify's invoke error types (:data:`INVOKE_ERROR_TYPES`), with the
credentials it used blanked out of its message and details.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from treadle_sdk.errors import ErrorCode, PluginError, PluginFailed
from treadle_sdk.model_errors import InvokeError

from ..tenancy import errors as tenancy_errors

__all__ = [
    "INVOKE_ERROR_TYPES",
    "CredentialNotFound",
    "CredentialsRefused",
    "SecretKeyError",
    "WorkspaceSettingsError",
    "invoke_error",
    "scrub",
    "scrubbed",
]

#: What ``details["error_type"]`` of a failed model call can be (Dify's names for them).
INVOKE_ERROR_TYPES = frozenset(
    {
        "InvokeRateLimitError",
        "InvokeServerUnavailableError",
        "InvokeAuthorizationError",
        "InvokeConnectionError",
        "QuotaExceededError",
        "InvokeBadRequestError",
    }
)

#: Error types of the SDK and plugins that are renamed to one of :data:`INVOKE_ERROR_TYPES`.
_RENAMED = {
    "InvokeQuotaExceededError": "QuotaExceededError",
    "CredentialsValidateFailedError": "InvokeAuthorizationError",
}

#: The error type of a plugin error that carries none, by its code.
_BY_CODE = {
    ErrorCode.DEADLINE_EXCEEDED: "InvokeConnectionError",
    ErrorCode.CANCELLED: "InvokeConnectionError",
    ErrorCode.UNAVAILABLE: "InvokeServerUnavailableError",
    ErrorCode.INVALID_ARGUMENT: "InvokeBadRequestError",
    ErrorCode.NOT_FOUND: "InvokeBadRequestError",
    ErrorCode.UNIMPLEMENTED: "InvokeBadRequestError",
    ErrorCode.PERMISSION_DENIED: "InvokeBadRequestError",
}

#: What a secret is replaced with wherever it would show.
REDACTED = "[redacted]"

#: Values shorter than this are not searched for: blanking every "ab" would garble messages.
_MIN_SCRUBBED = 4


class WorkspaceSettingsError(ValueError):
    """A workspace setting could not be saved or read: the message says what and where.

    ``provider`` and ``field`` name the provider and the credential field concerned, when there is one.
    """

    def __init__(self, message: str, *, provider: str = "", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.field = field


class CredentialNotFound(WorkspaceSettingsError, LookupError):
    """No credential, provider or model of that name or id in this workspace."""


class CredentialsRefused(WorkspaceSettingsError):
    """The provider's ``validate_credentials`` refused the credentials (Dify's
    ``CredentialsValidateFailedError``); nothing was saved."""

    error_type = "CredentialsValidateFailedError"


class SecretKeyError(WorkspaceSettingsError, tenancy_errors.SecretKeyError):
    """The server secret that encrypts credentials is missing, unreadable, or not the one a stored
    credential was encrypted with (the tenancy error, seen as a settings error)."""


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (a string, or lists and dicts of them) with every secret replaced by ``[redacted]``."""
    wanted = sorted({s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SCRUBBED}, key=len, reverse=True)
    if not wanted:
        return value
    return _scrub(value, wanted)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


def _error_type(exc: PluginError) -> str:
    given = exc.details.get("error_type")
    if isinstance(given, str):
        given = _RENAMED.get(given, given)
        if given in INVOKE_ERROR_TYPES:
            return given
    return _BY_CODE.get(exc.code, "InvokeServerUnavailableError")


def invoke_error(exc: PluginError, secrets: Iterable[str] = ()) -> PluginError:
    """``exc`` as a failed model call leaves the kernel: of the same class (so its code and the
    builtin it derives from are kept), with ``details["error_type"]`` one of
    :data:`INVOKE_ERROR_TYPES` (the plugin's own, if different, kept as ``original_error_type``)
    and ``secrets`` blanked out of the message and details."""
    error_type = _error_type(exc)
    details = dict(exc.details)
    original = details.get("error_type")
    if original not in (None, error_type):
        details["original_error_type"] = original
    details["error_type"] = error_type
    return scrubbed(exc, secrets, details)


def scrubbed(exc: PluginError, secrets: Iterable[str], details: dict[str, Any] | None = None) -> PluginError:
    """``exc`` with ``secrets`` blanked out of its message and details (``details`` replacing its
    own): the same object when nothing changes, else a new one of the same class."""
    secrets = tuple(secrets)
    message = scrub(exc.message, secrets)
    details = scrub(exc.details if details is None else details, secrets)
    if message == exc.message and details == exc.details:
        return exc
    rebuilt: PluginError
    try:
        rebuilt = type(exc)(message, plugin=exc.plugin, call=exc.call, details=details)
    except TypeError:  # a subclass with a constructor of its own
        rebuilt = PluginFailed(message, plugin=exc.plugin, call=exc.call, details=details)
    if isinstance(exc, InvokeError) and isinstance(rebuilt, InvokeError):
        rebuilt.retry_after = exc.retry_after
    return rebuilt
