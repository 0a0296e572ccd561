"""What goes wrong in an HTTP request node, with the ``error_type`` names Dify gives the same failures."""

from __future__ import annotations

from treadle_sdk.nodes import NodeRunError

__all__ = [
    "FileReadError",
    "HTTPResponseCodeError",
    "HttpRequestNodeError",
    "InvalidURLError",
    "RequestBodyError",
    "RequestRefusedError",
    "ResponseSizeError",
]


class HttpRequestNodeError(NodeRunError):
    """The request could not be made or answered (connection, TLS, timeout, protocol errors)."""

    error_type = "HttpRequestNodeError"


class InvalidURLError(HttpRequestNodeError):
    """The rendered URL is empty or not http(s)."""

    error_type = "InvalidURLError"


class RequestBodyError(HttpRequestNodeError):
    """The body cannot be built: invalid JSON, a form item that should be a file and is not."""

    error_type = "RequestBodyError"


class RequestRefusedError(HttpRequestNodeError):
    """The SSRF guard refused the destination (a loopback, private, link-local or metadata address)."""

    error_type = "RequestRefusedError"


class ResponseSizeError(HttpRequestNodeError):
    """The response is larger than the limit (10 MB unless the operator sets another)."""

    error_type = "ResponseSizeError"


class HTTPResponseCodeError(HttpRequestNodeError):
    """The server answered outside 2xx and the node has an error strategy or retries enabled."""

    error_type = "HTTPResponseCodeError"


class FileReadError(NodeRunError):
    """A file variable's bytes cannot be read (no readable URL, refused, failed, too large)."""

    error_type = "FileReadError"
