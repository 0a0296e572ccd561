"""The HTTP request node, behind an SSRF guard.

Registers the ``http-request`` node type. Its SSRF guard (:mod:`treadle_http_node.ssrf`) and file
reader (:mod:`treadle_http_node.files`) are public for other plugins that fetch URLs.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.ssrf import SSRFGuard, SSRFPolicy, SSRFRefused

from .config import HttpLimits
from .errors import (
    FileReadError,
    HttpRequestNodeError,
    HTTPResponseCodeError,
    InvalidURLError,
    RequestBodyError,
    RequestRefusedError,
    ResponseSizeError,
)
from .files import FileReader, FileRef
from .node import HttpRequestNodeType, PreparedHttpRequest

__all__ = [
    "FileReadError",
    "FileReader",
    "FileRef",
    "HTTPResponseCodeError",
    "HttpLimits",
    "HttpRequestNodeError",
    "HttpRequestNodeType",
    "InvalidURLError",
    "PreparedHttpRequest",
    "RequestBodyError",
    "RequestRefusedError",
    "ResponseSizeError",
    "SSRFGuard",
    "SSRFPolicy",
    "SSRFRefused",
    "register_node_types",
]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register ``http-request``, guarded by the operator's ``TREADLE_SSRF_ALLOW``."""
    register(HttpRequestNodeType())
