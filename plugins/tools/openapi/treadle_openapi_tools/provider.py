"""The ``openapi_request`` tool provider: one HTTP request, behind the SSRF guard.

The kernel turns a call of a custom OpenAPI tool (``provider_type`` ``api``) into a call of this
provider's ``request`` tool with the method, URL, headers, query and body already built from the
operation and its arguments, so that the kernel itself makes no outbound HTTP. Every request goes
through :class:`~treadle_sdk.ssrf.SSRFGuard`: private, loopback, link-local and metadata addresses
are refused unless the operator allows them in ``TREADLE_SSRF_ALLOW``.

What comes back: a JSON answer as a ``json`` message (the parsed value) and a ``text`` message (the
same JSON as text); another text answer as a ``text`` message; a binary answer (images, PDF,
octet streams) as a ``blob`` message. An answer outside 2xx fails with :class:`ToolInvokeError`
naming the status and the start of the body.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from treadle_sdk.context import CallContext
from treadle_sdk.environment import positive_number
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import Tool, ToolProvider, validate_tool_parameters
from treadle_sdk.schemas import (
    ToolParameter,
    ToolParameterOption,
    ToolParameterType,
    ToolProviderSchema,
    ToolSchema,
)
from treadle_sdk.ssrf import SSRFGuard, SSRFRefused
from treadle_sdk.tool_parameters import string_parameter
from treadle_sdk.tool_runtime import BlobMessage, InvokeToolArgs, JsonMessage, TextMessage

from .errors import ToolInvokeError, ToolRequestRefused

__all__ = ["METHODS", "RequestLimits", "RequestTool", "RequestToolProvider"]

#: The methods an OpenAPI operation may have.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")

#: How much of an error answer's body the error message quotes.
EXCERPT_CHARS = 300

_JSON_TYPES = frozenset({"application/json", "application/problem+json", "application/ld+json"})
_TEXT_TYPES = frozenset(
    {
        "application/xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/x-yaml",
        "application/x-ndjson",
        "application/graphql",
    }
)


@dataclass(frozen=True)
class RequestLimits:
    """Timeouts (Dify's ``API_TOOL_DEFAULT_CONNECT_TIMEOUT`` 10 s and ``..._READ_TIMEOUT`` 60 s), the
    largest response read, and how many redirects are followed."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RequestLimits:
        """Limits from ``TREADLE_API_TOOL_CONNECT_TIMEOUT``, ``TREADLE_API_TOOL_READ_TIMEOUT``
        (seconds) and ``TREADLE_API_TOOL_MAX_RESPONSE_BYTES``; unset ones keep their defaults."""
        environ = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            connect_timeout=positive_number(environ, "TREADLE_API_TOOL_CONNECT_TIMEOUT", defaults.connect_timeout),
            read_timeout=positive_number(environ, "TREADLE_API_TOOL_READ_TIMEOUT", defaults.read_timeout),
            max_response_bytes=int(
                positive_number(environ, "TREADLE_API_TOOL_MAX_RESPONSE_BYTES", defaults.max_response_bytes)
            ),
        )


class RequestTool(Tool):
    """``request``: one HTTP request; ``headers`` and ``query`` are JSON objects written as text."""

    schema = ToolSchema(
        name="request",
        label="HTTP Request",
        description="Send one HTTP request and return the answer (the request side of custom API tools).",
        llm_description="Send an HTTP request to a URL and return the response body.",
        parameters=[
            ToolParameter(
                name="method",
                type=ToolParameterType.SELECT,
                label="Method",
                required=True,
                default="GET",
                options=[ToolParameterOption(value=m, label=m) for m in METHODS],
                llm_description="The HTTP method.",
            ),
            string_parameter("url", "URL", "The absolute http(s) URL, path parameters filled in.", required=True),
            string_parameter(
                "headers", "Headers", 'The request headers as a JSON object of strings: {"X-Name": "value"}.'
            ),
            string_parameter(
                "query",
                "Query",
                'The query parameters as a JSON object; a list value repeats the name: {"tag": ["a", "b"]}.',
            ),
            string_parameter("body", "Body", "The request body, as text (set its Content-Type in headers)."),
        ],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[TextMessage]:
        raise PluginInvalidArgument("the request tool runs asynchronously, through its provider's invoke_tool")


def _json_object(parameters: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = parameters.get(name)
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PluginInvalidArgument(
            f"parameter {name!r} must be a JSON object written as text: {exc}", details={"parameter": name}
        ) from None
    if not isinstance(value, dict):
        raise PluginInvalidArgument(
            f"parameter {name!r} must be a JSON object, not a {type(value).__name__}", details={"parameter": name}
        )
    return value


def _headers(parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for name, value in _json_object(parameters, "headers").items():
        if not isinstance(value, str):
            raise PluginInvalidArgument(
                f"header {name!r} must be a string, not {type(value).__name__}", details={"parameter": "headers"}
            )
        if any(ch in value for ch in "\r\n\0") or not name or any(ch in name for ch in "\r\n\0:"):
            raise PluginInvalidArgument(
                f"header {name!r} has a line break, NUL or colon where none may be", details={"parameter": "headers"}
            )
        headers.append((name, value))
    return headers


def _query(parameters: Mapping[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in _json_object(parameters, "query").items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict | list):
                raise PluginInvalidArgument(
                    f"query parameter {name!r} must be a scalar or a list of scalars", details={"parameter": "query"}
                )
            if item is None:
                continue
            pairs.append((name, ("true" if item else "false") if isinstance(item, bool) else str(item)))
    return pairs


def _mime_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()


def _is_json(mime: str) -> bool:
    return mime in _JSON_TYPES or mime.endswith("+json")


def _is_text(mime: str) -> bool:
    return mime.startswith("text/") or _is_json(mime) or mime in _TEXT_TYPES or mime.endswith("+xml")


def _decode(response: httpx.Response, body: bytes) -> str:
    encoding = response.charset_encoding or "utf-8"
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


async def _read(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and response.request.method != "HEAD":
        raise ToolInvokeError(
            f"the response announces {declared} bytes, more than the {limit} byte limit",
            details={"limit": limit, "size": int(declared)},
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ToolInvokeError(f"the response is larger than the {limit} byte limit", details={"limit": limit})
        chunks.append(chunk)
    return b"".join(chunks)


def response_messages(response: httpx.Response, body: bytes) -> list[TextMessage | JsonMessage | BlobMessage]:
    """The messages of a 2xx answer: JSON as json + text, other text as text, binary as a blob."""
    mime = _mime_type(response)
    if not mime:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return [BlobMessage(blob=base64.b64encode(body).decode(), mime_type="application/octet-stream")]
        mime = "text/plain"
    if not _is_text(mime):
        return [BlobMessage(blob=base64.b64encode(body).decode(), mime_type=mime)]
    text = _decode(response, body)
    if _is_json(mime) and text.strip():
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return [TextMessage(text=text)]
        if not isinstance(value, dict | list):
            # A bare JSON scalar (a number, a string): json messages carry objects and arrays only.
            return [TextMessage(text=value if isinstance(value, str) else json.dumps(value))]
        return [JsonMessage(json_object=value), TextMessage(text=json.dumps(value, ensure_ascii=False))]
    return [TextMessage(text=text)]


class RequestToolProvider(ToolProvider):
    """The ``openapi_request`` provider: the one tool ``request``.

    :param guard: the SSRF guard every request goes through (by default one that reads the
        operator's ``TREADLE_SSRF_ALLOW``).
    :param limits: timeouts, the largest response, redirects (by default from the environment).
    """

    schema = ToolProviderSchema(
        name="openapi_request",
        author="treadle",
        label="OpenAPI request",
        description="Sends the HTTP requests of custom OpenAPI tools, behind the SSRF guard.",
        tags=["utilities"],
    )

    def __init__(self, *, guard: SSRFGuard | None = None, limits: RequestLimits | None = None) -> None:
        self.tools = [RequestTool()]
        self.guard = guard or SSRFGuard()
        self.limits = limits or RequestLimits.from_env()

    async def invoke_tool(  # type: ignore[override]
        self, args: InvokeToolArgs, ctx: CallContext
    ) -> AsyncIterator[TextMessage | JsonMessage | BlobMessage]:
        tool = self.get_tool(args.tool)
        parameters = validate_tool_parameters(tool.schema, args.parameters)
        for message in await self.request(parameters):
            yield message

    async def request(self, parameters: Mapping[str, Any]) -> list[TextMessage | JsonMessage | BlobMessage]:
        """Send the request ``parameters`` describe (checked against the tool's schema) and return the
        answer's messages."""
        method, url = str(parameters["method"]).upper(), str(parameters["url"])
        headers, query = _headers(parameters), _query(parameters)
        body = parameters.get("body")
        limits = self.limits
        timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
        try:
            self.guard.check_url(url)
        except SSRFRefused as exc:
            raise ToolRequestRefused(str(exc), details={"host": exc.host, "reason": exc.reason}) from None
        async with self.guard.client(timeout=timeout) as client:
            try:
                request = client.build_request(
                    method, url, params=query, headers=headers, content=body.encode() if body else None
                )
            except (httpx.InvalidURL, ValueError) as exc:
                raise PluginInvalidArgument(f"cannot build a request to {url[:200]!r}: {exc}") from None
            try:
                response = await self.guard.send(client, request, max_redirects=limits.max_redirects)
            except SSRFRefused as exc:
                raise ToolRequestRefused(str(exc), details={"host": exc.host, "reason": exc.reason}) from None
            except httpx.TooManyRedirects as exc:
                raise ToolInvokeError(f"{method} {_shown(request.url)}: {exc}") from None
            except httpx.TimeoutException as exc:
                shown = f"{method} {_shown(request.url)}"
                raise ToolInvokeError(f"{shown} timed out: {exc or type(exc).__name__}") from None
            except httpx.HTTPError as exc:
                raise ToolInvokeError(f"{method} {_shown(request.url)} failed: {exc or type(exc).__name__}") from None
            try:
                data = await _read(response, limits.max_response_bytes)
            except httpx.HTTPError as exc:
                raise ToolInvokeError(f"reading the answer of {method} {_shown(request.url)} failed: {exc}") from None
            finally:
                await response.aclose()
        if not 200 <= response.status_code < 300:
            excerpt = _decode(response, data[: EXCERPT_CHARS * 4])[:EXCERPT_CHARS]
            raise ToolInvokeError(
                f"{method} {_shown(request.url)} answered {response.status_code} "
                f"{response.reason_phrase}: {excerpt or '(empty body)'}",
                details={"status": response.status_code, "body": excerpt},
            )
        return response_messages(response, data)


def _shown(url: httpx.URL) -> str:
    """The URL as errors show it: without its query, which may carry an API key."""
    return str(url.copy_with(query=None))[:200]
