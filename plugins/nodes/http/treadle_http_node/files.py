"""File variables: reading a file's bytes (files made out of bytes: :mod:`treadle_sdk.files`).

A Dify file variable is an object such as ``{"dify_model_identity": "__dify__file__", "type":
"document", "transfer_method": "remote_url", "remote_url": "https://...", "filename": "a.pdf",
"extension": ".pdf", "mime_type": "application/pdf", "size": 1234, ...}``.

A file's bytes are read from where it is:

- files kept in the kernel's storage (``local_file`` uploads, ``tool_file``, known by ``related_id``)
  through the kernel method ``read_file`` of the run's :class:`~treadle_sdk.context.KernelClient`,
  for the run's workspace. Their ``url`` is a signed link for browsers, not read here: it points at
  our own server, which the SSRF guard rightly refuses, and the kernel is one call away anyway;
- a ``data:`` URL (files that nodes produce carry their bytes in one);
- an http(s) URL (``url``, else ``remote_url``), fetched through the SSRF guard.

The HTTP request node (binary and form-data bodies) and the document extractor share this module.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import httpx
from treadle_sdk.context import KernelClient
from treadle_sdk.errors import PluginError, PluginInvalidArgument, PluginNotFound
from treadle_sdk.files import FILE_IDENTITY, file_type_of, normalize_extension
from treadle_sdk.ssrf import SSRFGuard, SSRFRefused

from .bodies import BodyTooLarge, read_capped, readable_size
from .errors import FileReadError

__all__ = ["DEFAULT_MAX_FILE_BYTES", "STORED_TRANSFER_METHODS", "FileReader", "FileRef", "is_file_value"]

#: Transfer methods of files whose bytes the kernel keeps (read with ``read_file``).
STORED_TRANSFER_METHODS = frozenset({"local_file", "tool_file"})

#: The largest file read by default: Dify's default upload limit (15 MB).
DEFAULT_MAX_FILE_BYTES = 15 * 1024 * 1024


def is_file_value(value: Any) -> bool:
    """Whether ``value`` is a file object (Dify's marker, or the keys every file object has)."""
    if not isinstance(value, Mapping):
        return False
    if value.get("dify_model_identity") == FILE_IDENTITY:
        return True
    return "transfer_method" in value and any(key in value for key in ("url", "remote_url", "related_id"))


@dataclass(frozen=True, slots=True)
class FileRef:
    """The parts of a file variable Treadle reads: its name, kind, and where its bytes are."""

    filename: str
    #: Lower case with the dot (``".pdf"``), or ``""`` when neither the file nor its name tells.
    extension: str
    mime_type: str
    size: int | None
    #: Where the bytes are (``url``, else ``remote_url``), ``""`` if the file has no URL.
    url: str
    transfer_method: str
    related_id: str | None
    type: str

    @classmethod
    def from_value(cls, value: Any) -> FileRef | None:
        """The file ``value`` describes, or ``None`` if it is not a file object."""
        if not is_file_value(value):
            return None
        filename = str(value.get("filename") or "")
        extension = normalize_extension(str(value.get("extension") or "")) or normalize_extension(
            posixpath.splitext(filename)[1]
        )
        mime_type = str(value.get("mime_type") or "")
        size = value.get("size")
        return cls(
            filename=filename,
            extension=extension,
            mime_type=mime_type,
            size=size if isinstance(size, int) and size >= 0 else None,
            url=str(value.get("url") or value.get("remote_url") or ""),
            transfer_method=str(value.get("transfer_method") or ""),
            related_id=None if value.get("related_id") is None else str(value.get("related_id")),
            type=str(value.get("type") or file_type_of(extension, mime_type)),
        )

    @property
    def label(self) -> str:
        """How messages name the file: its name, else its URL (a data: URL only by its kind)."""
        if self.filename:
            return self.filename
        if self.url.startswith("data:"):
            return f"(data: URL of {self.mime_type or 'unknown type'})"
        return self.url[:200] or f"(stored file {self.related_id})"


class FileReader:
    """Reads the bytes of file variables: ``data:`` URLs here, http(s) URLs through ``guard``.

    :param max_bytes: files larger than this are refused (Dify's default upload limit, 15 MB).
    :param timeout: seconds allowed for each network phase (connect, read, write) of a download.
    """

    def __init__(self, guard: SSRFGuard, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES, timeout: float = 30.0) -> None:
        self._guard = guard
        self.max_bytes = max_bytes
        self._timeout = timeout

    async def read(self, file: FileRef, kernel: KernelClient | None = None) -> bytes:
        """The file's bytes; raises :class:`FileReadError` saying which file and why not.

        ``kernel`` is the run's way back into the kernel (``NodeRuntime.kernel``): stored files
        are read through it.
        """
        if file.transfer_method in STORED_TRANSFER_METHODS and file.related_id:
            return await self._read_stored(file, kernel)
        if file.url.startswith("data:"):
            return self._read_data_url(file)
        scheme = urlsplit(file.url).scheme.lower()
        if scheme in ("http", "https"):
            return await self._download(file)
        if not file.url:
            raise FileReadError(
                f"cannot read file {file.label}: it has no URL and no stored file id (related_id) "
                f"({file.transfer_method or 'no transfer method'})"
            )
        raise FileReadError(f"cannot read file {file.label}: {scheme or 'its'} URLs are not readable")

    async def _read_stored(self, file: FileRef, kernel: KernelClient | None) -> bytes:
        assert file.related_id is not None
        if kernel is None:
            raise FileReadError(
                f"cannot read file {file.label}: it is kept in the kernel's storage "
                f"({file.transfer_method}), and this run has no way back into the kernel"
            )
        try:
            return await kernel.aread_file(file.related_id, max_bytes=self.max_bytes)
        except PluginNotFound:
            raise FileReadError(
                f"cannot read file {file.label}: there is no stored file {file.related_id!r} in this workspace"
            ) from None
        except PluginInvalidArgument as exc:
            if "limit" in exc.details:
                raise self._too_large(file, readable_size(int(exc.details.get("size", 0)))) from None
            raise FileReadError(f"cannot read file {file.label}: {exc.message}") from None
        except PluginError as exc:
            raise FileReadError(f"cannot read file {file.label}: {exc.message}") from None

    def _too_large(self, file: FileRef, size: str | None = None) -> FileReadError:
        limit = readable_size(self.max_bytes)
        what = f"it is {size}, more than the {limit} limit" if size else f"it is larger than the {limit} limit"
        return FileReadError(f"cannot read file {file.label}: {what}")

    def _read_data_url(self, file: FileRef) -> bytes:
        header, sep, payload = file.url[len("data:") :].partition(",")
        if not sep:
            raise FileReadError(f"cannot read file {file.label}: its data: URL has no comma")
        if header.lower().endswith(";base64"):
            if len(payload) * 3 // 4 > self.max_bytes + 3:
                raise self._too_large(file, f"about {readable_size(len(payload) * 3 // 4)}")
            try:
                data = base64.b64decode(unquote(payload), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise FileReadError(f"cannot read file {file.label}: its data: URL is not base64 ({exc})") from None
        else:
            data = unquote_to_bytes(payload)
        if len(data) > self.max_bytes:
            raise self._too_large(file, readable_size(len(data)))
        return data

    async def _download(self, file: FileRef) -> bytes:
        where = file.url[:200]
        async with self._guard.client(timeout=self._timeout) as client:
            try:
                response = await self._guard.send(client, client.build_request("GET", file.url))
                try:
                    if response.status_code >= 400:
                        status = response.status_code
                        raise FileReadError(f"cannot read file {file.label}: GET {where} answered {status}")
                    return await read_capped(response, self.max_bytes)
                finally:
                    await response.aclose()
            except SSRFRefused as exc:
                raise FileReadError(f"cannot read file {file.label}: {exc}") from None
            except BodyTooLarge:
                raise self._too_large(file) from None
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
                raise FileReadError(f"cannot read file {file.label}: GET {where} failed: {reason}") from None
