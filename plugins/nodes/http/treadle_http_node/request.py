"""Turning the node's configuration and the run's variables into the request to send.

Every text field may hold ``{{#node.var#}}`` references. Headers and params are ``key:value`` lines;
each key and value is rendered on its own, so a variable cannot add lines of its own.
"""

from __future__ import annotations

import base64
import codecs
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from treadle_sdk.nodes import NodeRuntime

from .config import Authorization, Body, HttpRequestData
from .errors import HttpRequestNodeError, InvalidURLError, RequestBodyError
from .files import FileReader, FileRef

__all__ = ["OutgoingRequest", "build_request", "encode_multipart", "parse_lines"]

#: How much of a text body the request log keeps.
_LOGGED_BODY_CHARS = 10_000


@dataclass
class OutgoingRequest:
    """The request a node run sends, before it goes through the guarded client."""

    method: str
    url: str
    params: list[tuple[str, str]]
    headers: httpx.Headers
    content: bytes | None
    #: The header carrying the credentials of ``api-key`` authorization (masked in the log).
    secret_header: str | None = None

    def build(self, client: httpx.AsyncClient, timeout: httpx.Timeout) -> httpx.Request:
        try:
            # Params join the URL's own query (a key in both takes the params' values).
            url = httpx.URL(self.url).copy_merge_params(tuple(self.params)) if self.params else self.url
            return client.build_request(self.method, url, headers=self.headers, content=self.content, timeout=timeout)
        except httpx.InvalidURL as exc:
            raise InvalidURLError(f"invalid URL {self.url[:200]!r}: {exc}") from None

    def log(self, request: httpx.Request) -> str:
        """The request as raw HTTP text, for the run record; credentials masked."""
        target = request.url.raw_path.decode("ascii", "replace")
        lines = [f"{request.method} {target} HTTP/1.1"]
        secret = (self.secret_header or "").lower()
        for raw_key, raw_value in request.headers.raw:
            key, value = raw_key.decode("latin-1"), raw_value.decode("utf-8", "replace")
            lines.append(f"{key}: {'*' * len(value) if secret and key.lower() == secret else value}")
        text = "\r\n".join(lines) + "\r\n\r\n"
        if self.content:
            head = self.content[: _LOGGED_BODY_CHARS * 4]
            try:
                # Not final: the cut may fall inside a character.
                body = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            except UnicodeDecodeError:
                body = f"({len(self.content)} bytes of binary data)"
            text += body[:_LOGGED_BODY_CHARS]
        return text


def parse_lines(text: str) -> list[tuple[str, str]]:
    """Dify's ``key:value`` lines: blank lines and empty keys skipped, a line without a colon is a
    key with an empty value, spaces around keys and values dropped."""
    pairs = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip():
            pairs.append((key.strip(), value.strip()))
    return pairs


def _rendered_pairs(text: str, rt: NodeRuntime) -> list[tuple[str, str]]:
    return [(rt.render(key).strip(), rt.render(value).strip()) for key, value in parse_lines(text)]


async def build_request(data: HttpRequestData, rt: NodeRuntime, files: FileReader) -> OutgoingRequest:
    """The request ``data`` describes, with variables rendered and files read."""
    url = rt.render(data.url).strip()
    if not url:
        raise InvalidURLError("the URL is empty")
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidURLError(f"the URL must start with http:// or https://, not {url[:200]!r}")
    headers = httpx.Headers()
    for key, value in _rendered_pairs(data.headers, rt):
        if any(c in key + value for c in "\r\n"):
            raise HttpRequestNodeError(f"the header {key!r} contains a line break")
        headers[key] = value
    secret_header = _authorize(data.authorization, rt, headers)
    content = await _body(data.body, rt, files, headers)
    return OutgoingRequest(data.method, url, _rendered_pairs(data.params, rt), headers, content, secret_header)


def _authorize(auth: Authorization, rt: NodeRuntime, headers: httpx.Headers) -> str | None:
    """Add the ``api-key`` authorization header (over any header of the same name); its name."""
    if auth.type != "api-key" or auth.config is None or auth.config.type is None:
        return None
    key = rt.render(auth.config.api_key)
    header = rt.render(auth.config.header).strip() or "Authorization"
    if auth.config.type == "bearer":
        headers[header] = f"Bearer {key}"
    elif auth.config.type == "basic":
        # "user:password" is encoded here; anything else is taken as already encoded (as Dify does).
        headers[header] = f"Basic {base64.b64encode(key.encode()).decode() if ':' in key else key}"
    else:
        headers[header] = key
    return header


async def _body(body: Body | None, rt: NodeRuntime, files: FileReader, headers: httpx.Headers) -> bytes | None:
    if body is None or body.type == "none":
        return None

    def default_content_type(value: str) -> None:
        if "content-type" not in headers:
            headers["content-type"] = value

    if body.type == "raw-text":
        default_content_type("text/plain")
        return rt.render(body.data[0].value).encode() if body.data else b""
    if body.type == "json":
        text = rt.render(body.data[0].value) if body.data else ""
        try:
            document = json.loads(text, strict=False)
        except json.JSONDecodeError as exc:
            raise RequestBodyError(f"the JSON body is not valid JSON ({exc}): {text[:200]!r}") from None
        default_content_type("application/json")
        return json.dumps(document, ensure_ascii=False).encode()
    if body.type == "x-www-form-urlencoded":
        default_content_type("application/x-www-form-urlencoded")
        return urlencode(_text_fields(body, rt)).encode()
    if body.type == "binary":
        [file] = _files(rt, body.data[0].file, "the binary body", many=False)
        default_content_type(file.mime_type or "application/octet-stream")
        return await files.read(file, rt.kernel)
    # form-data: text fields, then files; the boundary must be ours, whatever the headers say.
    parts = []
    for item in body.data:
        name = rt.render(item.key).strip()
        if name and item.type == "file":
            for file in _files(rt, item.file, f"the form-data item {name!r}", many=True):
                parts.append((name, file, await files.read(file, rt.kernel)))
    content, boundary = encode_multipart(_text_fields(body, rt), parts)
    headers["content-type"] = f"multipart/form-data; boundary={boundary}"
    return content


def _text_fields(body: Body, rt: NodeRuntime) -> list[tuple[str, str]]:
    fields = []
    for item in body.data:
        name = rt.render(item.key).strip()
        if name and item.type == "text":
            fields.append((name, rt.render(item.value)))
    return fields


def _files(rt: NodeRuntime, selector: Sequence[str], where: str, *, many: bool) -> list[FileRef]:
    """The file(s) at ``selector``: one file, or (``many``) an array of files."""
    value = rt.get(selector)
    values = value if isinstance(value, list) else [value]
    refs = [FileRef.from_value(v) for v in values]
    if any(ref is None for ref in refs) or (not many and len(refs) != 1):
        kind = "a file or an array of files" if many else "a file"
        raise RequestBodyError(f"{where}: {'.'.join(selector)} is not {kind}")
    return [ref for ref in refs if ref is not None]


def _quote(text: str) -> str:
    # What browsers do with names in multipart headers (HTML living standard).
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_multipart(fields: list[tuple[str, str]], files: list[tuple[str, FileRef, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of text ``fields`` and ``files``; returns it and its boundary."""
    boundary = secrets.token_hex(16)
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, file, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"; '
            f'filename="{_quote(file.filename or "file")}"\r\n'
            f"Content-Type: {file.mime_type or 'application/octet-stream'}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), boundary
