"""The request side of custom OpenAPI tools: the ``openapi_request`` provider and its ``request`` tool.

The kernel parses a workspace's OpenAPI documents into tools (``treadle.tools.openapi``) and, for
each call, builds the request and sends it through this provider, so outbound HTTP happens in a
plugin host behind the SSRF guard, never in the kernel.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .errors import ToolInvokeError, ToolRequestRefused
from .provider import METHODS, RequestLimits, RequestTool, RequestToolProvider, response_messages

__all__ = [
    "METHODS",
    "RequestLimits",
    "RequestTool",
    "RequestToolProvider",
    "ToolInvokeError",
    "ToolRequestRefused",
    "register_tools",
    "response_messages",
]


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``openapi_request`` provider, guarded by the operator's ``TREADLE_SSRF_ALLOW``."""
    register(RequestToolProvider())
