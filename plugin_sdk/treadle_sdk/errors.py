"""Typed errors of the plugin contract.

Every failure that crosses the kernel/plugin boundary is a :class:`PluginError` with a
:class:`ErrorCode`, the plugin it concerns, the call (``kind/name.operation``) and structured details.
The same classes are raised inline and out of process, so callers never match on message strings.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "ErrorCode",
    "PluginCancelled",
    "PluginError",
    "PluginFailed",
    "PluginInternalError",
    "PluginInvalidArgument",
    "PluginLoadError",
    "PluginMalformedResponse",
    "PluginNotFound",
    "PluginPermissionDenied",
    "PluginProtocolError",
    "PluginTimeout",
    "PluginUnauthenticated",
    "PluginUnavailable",
    "PluginUnimplemented",
    "RegistrationError",
    "error_for_code",
]


class ErrorCode(enum.IntEnum):
    """Mirrors ``treadle.plugin.v1.ErrorCode``; the numbers are the wire values."""

    UNSPECIFIED = 0
    INVALID_ARGUMENT = 1
    NOT_FOUND = 2
    DEADLINE_EXCEEDED = 3
    UNAVAILABLE = 4
    PLUGIN_FAILED = 5
    MALFORMED_RESPONSE = 6
    CANCELLED = 7
    PERMISSION_DENIED = 8
    UNAUTHENTICATED = 9
    UNIMPLEMENTED = 10
    PROTOCOL = 11
    INTERNAL = 12


class PluginError(Exception):
    """A failure of a call into (or back out of) a plugin.

    ``plugin`` names the plugin, ``call`` the operation as ``kind/name.operation``; ``details`` holds
    structured facts (a field path, a limit, the plugin's exception type) that API layers may show.
    """

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        plugin: str = "",
        call: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.plugin = plugin
        self.call = call
        self.details: dict[str, Any] = details or {}
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.plugin:
            where.append(f"plugin {self.plugin!r}")
        if self.call:
            where.append(f"call {self.call}")
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data: the shape API layers put in their error bodies."""
        return {
            "code": self.code.name.lower(),
            "message": self.message,
            "plugin": self.plugin,
            "call": self.call,
            "details": self.details,
        }


class PluginInvalidArgument(PluginError, ValueError):
    """The payload of a call does not fit the operation (a missing or mistyped argument)."""

    code = ErrorCode.INVALID_ARGUMENT


class PluginNotFound(PluginError, LookupError):
    """No plugin, extension or operation of that name is loaded."""

    code = ErrorCode.NOT_FOUND


class PluginTimeout(PluginError, TimeoutError):
    """The call outlived its deadline; the plugin was told to stop."""

    code = ErrorCode.DEADLINE_EXCEEDED


class PluginUnavailable(PluginError, ConnectionError):
    """The plugin's host is down, crashed during the call, or is restarting."""

    code = ErrorCode.UNAVAILABLE


class PluginFailed(PluginError, RuntimeError):
    """The plugin's own code raised; ``details["exception_type"]`` names what it raised."""

    code = ErrorCode.PLUGIN_FAILED


class PluginMalformedResponse(PluginError, TypeError):
    """The plugin returned data that does not fit the operation's result type."""

    code = ErrorCode.MALFORMED_RESPONSE


class PluginCancelled(PluginError):
    """The caller gave up on the call before it ended."""

    code = ErrorCode.CANCELLED


class PluginPermissionDenied(PluginError, PermissionError):
    """The invocation token does not allow this call back into the kernel."""

    code = ErrorCode.PERMISSION_DENIED


class PluginUnauthenticated(PluginError, PermissionError):
    """The invocation token is unknown or no longer valid."""

    code = ErrorCode.UNAUTHENTICATED


class PluginUnimplemented(PluginError, NotImplementedError):
    """The receiving side has no such method (or no service behind it is configured)."""

    code = ErrorCode.UNIMPLEMENTED


class PluginProtocolError(PluginError):
    """A frame broke the wire protocol: wrong version, oversized, or out of sequence."""

    code = ErrorCode.PROTOCOL


class PluginInternalError(PluginError):
    """A fault in Treadle's own plugin machinery rather than in the plugin."""

    code = ErrorCode.INTERNAL


class PluginLoadError(PluginError, ImportError):
    """A plugin could not be imported or its hooks failed while registering."""

    code = ErrorCode.NOT_FOUND


class RegistrationError(PluginError, ValueError):
    """A plugin registered something invalid: a bad schema, or a name another plugin already has."""

    code = ErrorCode.INVALID_ARGUMENT


_BY_CODE: dict[ErrorCode, type[PluginError]] = {
    cls.code: cls
    for cls in (
        PluginInvalidArgument,
        PluginNotFound,
        PluginTimeout,
        PluginUnavailable,
        PluginFailed,
        PluginMalformedResponse,
        PluginCancelled,
        PluginPermissionDenied,
        PluginUnauthenticated,
        PluginUnimplemented,
        PluginProtocolError,
        PluginInternalError,
    )
}


def error_for_code(
    code: int, message: str, *, plugin: str = "", call: str = "", details: dict[str, Any] | None = None
) -> PluginError:
    """Rebuild the typed error for a wire error code (unknown codes become internal errors)."""
    try:
        cls = _BY_CODE[ErrorCode(code)]
    except (ValueError, KeyError):
        cls = PluginInternalError
    return cls(message, plugin=plugin, call=call, details=details)
