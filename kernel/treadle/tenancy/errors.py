"""Errors of tenancy: each says what was refused and why, and carries the fields an API maps to a status.

The API layer maps them to Dify's error envelope: :class:`PermissionDenied` to 403, the
:class:`InvalidSession` family and :class:`InvalidApiKey` to 401, :class:`WeakPassword` and
:class:`UnknownRole` to 400.
"""

from __future__ import annotations

__all__ = [
    "InvalidApiKey",
    "InvalidSession",
    "PermissionDenied",
    "SecretKeyError",
    "SessionExpired",
    "SessionRevoked",
    "SessionTampered",
    "TenancyError",
    "UnknownRole",
    "WeakPassword",
]


class TenancyError(Exception):
    """Root of the tenancy errors; ``message`` is the text shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WeakPassword(TenancyError, ValueError):
    """A new password breaks a password rule; ``rule`` names it (``length``, ``letters``, ``digits``)."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class UnknownRole(TenancyError, ValueError):
    """A role name that is not one of the workspace roles."""


class PermissionDenied(TenancyError, PermissionError):
    """``role`` may not do ``action`` in this workspace (an HTTP 403)."""

    def __init__(self, message: str, *, role: str, action: str) -> None:
        super().__init__(message)
        self.role = role
        self.action = action


class InvalidSession(TenancyError):
    """A console session token that cannot be used: sign in again (an HTTP 401)."""


class SessionTampered(InvalidSession):
    """The token is malformed, or its signature does not match (altered, or signed by another server)."""


class SessionExpired(InvalidSession):
    """The token was genuine but its lifetime is over."""


class SessionRevoked(InvalidSession):
    """The account signed out everywhere, changed its password or was removed since the token was issued."""


class InvalidApiKey(TenancyError):
    """The ``Authorization`` header carries no API key, a malformed one, or one that is not (or no
    longer) valid for this API (an HTTP 401)."""


class SecretKeyError(TenancyError, ValueError):
    """The server secret that encrypts secrets at rest is missing, unreadable, or not the one a stored
    value was encrypted with, or the stored value was altered."""
