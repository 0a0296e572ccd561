"""The ``http-request`` node type (NODE-HTTP-REQUEST): one HTTP request, behind the SSRF guard.

Outputs, as in Dify: ``status_code``; ``body`` (the text of a text response, ``""`` for a file);
``headers`` (an object, lower-case names, repeated headers joined with ``", "``); ``files`` (the
binary response as a file, or ``[]``). Retries and error strategies are the engine's; a non-2xx
answer fails the node (``HTTPResponseCodeError``) only when one of them is configured, as in Dify.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.ssrf import SSRFGuard, SSRFRefused
from treadle_sdk.templates import Selector

from .bodies import BodyTooLarge, read_capped, readable_size
from .config import HttpLimits, HttpRequestData, parse_config
from .errors import HttpRequestNodeError, HTTPResponseCodeError, RequestRefusedError, ResponseSizeError
from .files import FileReader
from .request import build_request
from .response import SNIFF_BYTES, decode_text, is_file_response, response_file

__all__ = ["HttpRequestNodeType", "PreparedHttpRequest"]


class HttpRequestNodeType(NodeType):
    """Sends HTTP requests from workflows.

    :param guard: the SSRF guard every request goes through (by default one that reads the
        operator's ``TREADLE_SSRF_ALLOW``).
    :param limits: timeouts, response and file sizes, redirects (by default from the environment).
    """

    schema = NodeTypeSchema(
        name="http-request",
        label={"en_US": "HTTP Request"},
        description={"en_US": "Send an HTTP request to an API or web service."},
    )

    def __init__(self, *, guard: SSRFGuard | None = None, limits: HttpLimits | None = None) -> None:
        self.guard = guard or SSRFGuard()
        self.limits = limits or HttpLimits.from_env()
        self.files = FileReader(self.guard, max_bytes=self.limits.max_file_bytes)

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedHttpRequest:
        return PreparedHttpRequest(self, node_id, config, parse_config(config))


class PreparedHttpRequest(PreparedNode):
    """One configured HTTP request node."""

    def __init__(
        self, node_type: HttpRequestNodeType, node_id: str, config: Mapping[str, Any], data: HttpRequestData
    ) -> None:
        self.node_type = node_type
        self.node_id = node_id
        self.config = config
        self.data = data

    def selectors(self) -> list[Selector]:
        # File items name their variable by a bare selector (``file: [node, var]``), not a template.
        files = [tuple(item.file) for item in (self.data.body.data if self.data.body else []) if item.file]
        return list(dict.fromkeys([*super().selectors(), *files]))

    async def run(self, rt: NodeRuntime) -> NodeResult:
        node_type, data = self.node_type, self.data
        limits, guard = node_type.limits, node_type.guard
        outgoing = await build_request(data, rt, node_type.files)
        connect, read, write = limits.timeouts(data.timeout)
        timeout = httpx.Timeout(connect=connect, read=read, write=write, pool=connect)
        async with guard.client(verify=data.ssl_verify, timeout=timeout) as client:
            request = outgoing.build(client, timeout)
            log = outgoing.log(request)
            try:
                response = await guard.send(client, request, max_redirects=limits.max_redirects)
                try:
                    content = await read_capped(response, limits.max_response_bytes)
                finally:
                    await response.aclose()
            except SSRFRefused as exc:
                raise RequestRefusedError(str(exc)) from None
            except BodyTooLarge as exc:
                raise ResponseSizeError(f"{data.method} {request.url}: {exc}") from None
            except httpx.TimeoutException as exc:
                raise HttpRequestNodeError(_timeout_message(exc, request, (connect, read, write))) from None
            except httpx.TooManyRedirects:
                raise HttpRequestNodeError(
                    f"{data.method} {request.url}: more than {limits.max_redirects} redirects"
                ) from None
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
                raise HttpRequestNodeError(f"{data.method} {request.url} failed: {reason}") from None
        if not response.is_success and data.fails_on_error_status:
            raise HTTPResponseCodeError(f"{data.method} {response.url} answered status code {response.status_code}")
        files = []
        if content and is_file_response(response.headers, content[:SNIFF_BYTES]):
            files.append(response_file(content, response.headers, response.url))
        return NodeResult(
            outputs={
                "status_code": response.status_code,
                "body": "" if files else decode_text(content, response.charset_encoding),
                "headers": dict(response.headers),
                "files": files,
            },
            process_data={"request": log, "response_size": len(content), "readable_size": readable_size(len(content))},
        )


def _timeout_message(exc: httpx.TimeoutException, request: httpx.Request, limits: tuple[float, float, float]) -> str:
    connect, read, write = limits
    where = f"{request.method} {request.url}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"{where}: connecting took longer than the connect timeout ({connect:g} s)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"{where}: the server sent nothing for longer than the read timeout ({read:g} s)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"{where}: sending the request took longer than the write timeout ({write:g} s)"
    return f"{where}: timed out ({str(exc) or type(exc).__name__})"
