"""The errors of the request tool, with the ``error_type`` names Dify gives the same failures.

Each is a :class:`~treadle_sdk.errors.PluginFailed` whose ``details["error_type"]`` carries the name
across the process boundary, so a tool node or an agent can tell a refused destination from an
error answer without reading messages.
"""

from __future__ import annotations

from typing import Any

from treadle_sdk.errors import PluginFailed

__all__ = ["ToolInvokeError", "ToolRequestRefused"]


class ToolInvokeError(PluginFailed):
    """The request failed: an answer outside 2xx (``details["status"]`` and ``details["body"]``, a
    short excerpt), a connection error, a timeout, or a response over the size limit."""

    error_type = "ToolInvokeError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"error_type": self.error_type, **(details or {})})


class ToolRequestRefused(ToolInvokeError):
    """The SSRF guard refused the destination (a loopback, private, link-local or metadata address
    that the operator did not allow in ``TREADLE_SSRF_ALLOW``)."""

    error_type = "ToolRequestRefused"
