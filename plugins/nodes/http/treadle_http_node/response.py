"""What a response becomes: text in ``body``, or a file in ``files`` when it is binary.

A response is a file when its ``Content-Disposition`` says ``attachment`` or names a file; otherwise
when its MIME type is a binary one (images, audio, video, PDF, archives, Office documents, octet
streams); otherwise when the first 1024 bytes do not read as text. Text types (``text/*``, JSON, XML,
JavaScript, YAML, forms) are always text.
"""

from __future__ import annotations

import codecs
import mimetypes
import posixpath
from email.message import Message
from typing import Any
from urllib.parse import unquote

import httpx
from treadle_sdk.files import file_value

__all__ = ["SNIFF_BYTES", "decode_text", "is_file_response", "response_file"]

#: How many leading bytes are sampled to tell text from binary.
SNIFF_BYTES = 1024

_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/x-ndjson",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/x-yaml",
        "application/graphql",
        "application/sql",
        "application/x-sh",
    }
)
_BINARY_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/x-bzip2",
        "application/msword",
        "application/rtf",
        "application/epub+zip",
        "application/wasm",
        "application/x-protobuf",
    }
)
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "application/vnd.")
_CONTROL = frozenset(range(32)) - {9, 10, 12, 13, 27}


def _disposition(headers: httpx.Headers) -> tuple[str | None, str | None]:
    """(disposition type, file name) of the ``Content-Disposition`` header, RFC 2231 names included."""
    value = headers.get("content-disposition")
    if not value:
        return None, None
    message = Message()
    message["content-disposition"] = value
    return message.get_content_disposition(), message.get_filename()


def _mime_type(headers: httpx.Headers) -> str:
    return str(headers.get("content-type", "")).split(";", 1)[0].strip().lower()


def _looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    try:
        # The sample may end inside a multi-byte character: a decoder that is not told it is the
        # end tolerates that.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return True
    controls = sum(1 for byte in sample if byte in _CONTROL)
    return controls > len(sample) // 10


def is_file_response(headers: httpx.Headers, sample: bytes) -> bool:
    """Whether a response with ``headers``, whose body starts with ``sample``, is a file."""
    disposition, filename = _disposition(headers)
    if disposition == "attachment" or filename:
        return True
    mime = _mime_type(headers)
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml")):
        return False
    if mime in _BINARY_TYPES or mime.startswith(_BINARY_PREFIXES):
        return True
    return _looks_binary(sample[:SNIFF_BYTES])


def decode_text(content: bytes, charset: str | None) -> str:
    """A text body: in its declared charset, else UTF-8; undecodable bytes replaced."""
    try:
        return content.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def response_file(content: bytes, headers: httpx.Headers, url: httpx.URL) -> dict[str, Any]:
    """The file variable of a binary response: named after its ``Content-Disposition`` or the last
    segment of its URL, typed after the name, the ``Content-Type``, or as an octet stream."""
    _, disposition_name = _disposition(headers)
    url_name = unquote(posixpath.basename(url.path))
    filename = posixpath.basename(disposition_name or "") or url_name
    mime = (
        (mimetypes.guess_type(disposition_name)[0] if disposition_name else None)
        or _mime_type(headers)
        or (mimetypes.guess_type(filename)[0] if filename else None)
        or "application/octet-stream"
    )
    if not filename:
        filename = "file" + (mimetypes.guess_extension(mime, strict=False) or "")
    elif not posixpath.splitext(filename)[1]:
        filename += mimetypes.guess_extension(mime, strict=False) or ""
    return file_value(content, filename=filename, mime_type=mime)
