"""The file service: uploads checked and stored, file values for runs, signed URLs, and reads.

Bytes go to the configured storage backend plugin (:class:`~.storage.PluginStorage`); what the kernel
knows about each file goes to a :class:`~.records.FileRecordStore`. Every lookup is scoped by
workspace: a file of another workspace is reported as not found, never as forbidden, so its
existence does not leak.
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from treadle_sdk.files import FILE_IDENTITY, file_type_of, normalize_extension

from .errors import (
    FileAccessDenied,
    FilenameMissing,
    FileServiceError,
    FileTooLarge,
    NoFileUploaded,
    NoSuchFile,
    TooManyFiles,
    UnsupportedFileType,
)
from .limits import DATASET_EXTENSIONS, UploadLimits
from .records import FileRecord, FileRecordStore
from .signing import FILE_PREVIEW, IMAGE_PREVIEW, FileSigner
from .storage import PluginStorage

__all__ = ["FILE_TYPES", "FileService"]

#: Dify's file categories (``type`` of a file value).
FILE_TYPES = ("image", "document", "audio", "video", "custom")
#: Characters Dify refuses in uploaded file names.
_BAD_NAME_CHARACTERS = frozenset('/\\:*?"<>|\x00')
_MAX_NAME_LENGTH = 200
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_MEDIA = ("image", "audio", "video")


def _readable(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def _mime_type(declared: str, filename: str) -> str:
    """The declared MIME type without parameters, in lower case; guessed from the name when the
    client sent none (or only ``application/octet-stream``)."""
    mime = declared.split(";", 1)[0].strip().lower()
    if not mime or mime == "application/octet-stream":
        mime = (mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream").lower()
    if not _MIME.match(mime):
        raise UnsupportedFileType(f"the file's MIME type {declared!r} is not a type/subtype", mime_type=declared)
    return mime


class FileService:
    """Uploads, file values and signed URLs over one storage backend and one record store.

    :param limits: the upload limits (Dify's defaults unless given).
    :param clock: the time of new records (tests pass a fixed one).
    """

    def __init__(
        self,
        storage: PluginStorage,
        records: FileRecordStore,
        signer: FileSigner,
        *,
        limits: UploadLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.records = records
        self.signer = signer
        self.limits = limits or UploadLimits()
        self._clock = clock

    # -- uploads ------------------------------------------------------------------------------------

    @staticmethod
    def check_count(count: int, *, limit: int = 1) -> None:
        """Refuse a request with no file (``no_file_uploaded``) or more than ``limit``
        (``too_many_files``); the Service API's upload takes exactly one."""
        if count < 1:
            raise NoFileUploaded("no file was uploaded: send one in the multipart field 'file'")
        if count > limit:
            raise TooManyFiles(f"{count} files were sent; at most {limit} may be uploaded at once", limit=limit)

    def check_upload(self, filename: str, size: int, mime_type: str = "", *, source: str = "") -> tuple[str, str]:
        """Check an upload before its bytes are read in full; returns its (extension, MIME type).

        ``source="datasets"`` admits only documents a knowledge base can index.
        """
        if not filename or not filename.strip():
            raise FilenameMissing("the uploaded file has no file name")
        bad = sorted(_BAD_NAME_CHARACTERS.intersection(filename))
        if bad:
            raise FileServiceError(f"the file name {filename[:200]!r} holds characters not allowed: {''.join(bad)!r}")
        mime = _mime_type(mime_type, filename)
        extension = normalize_extension(posixpath.splitext(filename)[1])
        if extension in self.limits.blocked_extensions:
            raise UnsupportedFileType(f"files with the extension {extension} are not accepted", extension=extension)
        if source == "datasets" and extension not in DATASET_EXTENSIONS:
            raise UnsupportedFileType(
                f"{filename!r} is not a document a knowledge base can index "
                f"(accepted: {', '.join(sorted(DATASET_EXTENSIONS))})",
                extension=extension,
            )
        kind = file_type_of(extension, mime)
        if kind in _MEDIA and mime.split("/", 1)[0] not in _MEDIA:
            # A picture served back as text/html would run as a page of this site: refuse the mix.
            raise UnsupportedFileType(
                f"{filename!r} has the extension of {kind} files but was sent as {mime}", mime_type=mime
            )
        limit = self.limits.size_limit(extension)
        if size > limit:
            raise FileTooLarge(
                f"File size exceeded. {filename!r} is {_readable(size)}; the limit for {extension or 'such'} "
                f"files is {_readable(limit)}",
                size=size,
                limit=limit,
            )
        return extension, mime

    async def upload(
        self,
        tenant_id: str,
        *,
        filename: str,
        content: bytes,
        mime_type: str = "",
        created_by: str,
        created_by_role: str = "end_user",
        source: str = "",
        source_url: str = "",
    ) -> FileRecord:
        """Check the file, store its bytes and record it."""
        if not tenant_id:
            raise ValueError("uploads belong to a workspace: tenant_id is empty")
        extension, mime = self.check_upload(filename, len(content), mime_type, source=source)
        if len(filename) > _MAX_NAME_LENGTH:
            stem = posixpath.splitext(filename)[0]
            filename = stem[: _MAX_NAME_LENGTH - len(extension)] + extension
        file_id = str(uuid.uuid4())
        record = FileRecord(
            id=file_id,
            tenant_id=tenant_id,
            storage_key=f"upload_files/{tenant_id}/{file_id}{extension}",
            name=filename,
            size=len(content),
            extension=extension,
            mime_type=mime,
            hash=hashlib.sha3_256(content).hexdigest(),
            created_by=created_by,
            created_by_role=created_by_role,
            created_at=self._clock(),
            source_url=source_url,
        )
        await self.storage.save(record.storage_key, content)
        await self.records.add(record)
        return record

    # -- what clients and runs see --------------------------------------------------------------------

    def preview_url(self, record: FileRecord, *, as_attachment: bool = False) -> str:
        """A signed URL of the file (``/files/{id}/file-preview?...``), valid for the signer's timeout."""
        return self.signer.url(record.id, purpose=FILE_PREVIEW, as_attachment=as_attachment)

    def upload_response(self, record: FileRecord, *, conversation_id: str | None = None) -> dict[str, Any]:
        """The body of ``POST /files/upload`` (API-FILE-UPLOAD)."""
        preview = self.preview_url(record)
        return {
            "id": record.id,
            "name": record.name,
            "size": record.size,
            "extension": record.extension.lstrip("."),
            "mime_type": record.mime_type,
            "created_by": record.created_by,
            "created_at": int(record.created_at.timestamp()),
            "preview_url": preview,
            "source_url": record.source_url or preview,
            "original_url": record.source_url or None,
            "user_id": record.created_by,
            "tenant_id": record.tenant_id,
            "conversation_id": conversation_id,
            "file_key": record.storage_key,
        }

    def file_value(self, record: FileRecord, *, file_type: str | None = None) -> dict[str, Any]:
        """The file as a run's variables hold it (VAR-FILE-OBJECT, ``transfer_method: local_file``)."""
        return {
            "dify_model_identity": FILE_IDENTITY,
            "id": record.id,
            "tenant_id": record.tenant_id,
            "type": file_type or file_type_of(record.extension, record.mime_type),
            "transfer_method": "local_file",
            "remote_url": None,
            "related_id": record.id,
            "filename": record.name,
            "extension": record.extension,
            "mime_type": record.mime_type,
            "size": record.size,
            "url": self.preview_url(record),
        }

    async def file_from_mapping(
        self, tenant_id: str, mapping: Mapping[str, Any], *, where: str = "file"
    ) -> dict[str, Any]:
        """The file value a request names (``{"type": "document", "transfer_method": "local_file",
        "upload_file_id": "..."}`` or ``{"transfer_method": "remote_url", "url": "https://..."}``),
        checked against this workspace's uploads. ``where`` names the field in error messages."""
        if not isinstance(mapping, Mapping):
            raise FileServiceError(f"{where} must be an object describing a file, not {type(mapping).__name__}")
        method = mapping.get("transfer_method")
        declared = mapping.get("type") or "custom"
        if declared not in FILE_TYPES:
            raise FileServiceError(f"{where}.type must be one of {list(FILE_TYPES)}, not {declared!r}")
        if method == "local_file":
            file_id = mapping.get("upload_file_id") or mapping.get("related_id")
            if not isinstance(file_id, str) or not file_id:
                raise FileServiceError(f"{where}.upload_file_id is required for a local_file")
            record = await self.records.get(file_id)
            if record is None or record.tenant_id != tenant_id:
                raise FileServiceError(f"{where}.upload_file_id {file_id!r} is not a file uploaded to this workspace")
            detected = file_type_of(record.extension, record.mime_type)
            if declared != "custom" and declared != detected:
                raise FileServiceError(
                    f"{where}.type is {declared!r} but {record.name!r} is a {detected} file",
                    declared=declared,
                    detected=detected,
                )
            return self.file_value(record, file_type=declared if declared != "custom" else detected)
        if method == "remote_url":
            url = mapping.get("url") or mapping.get("remote_url")
            if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https"):
                raise FileServiceError(f"{where}.url must be an http(s) URL for a remote_url file")
            filename = unquote(posixpath.basename(urlsplit(url).path))
            mime = (mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream").lower()
            extension = normalize_extension(posixpath.splitext(filename)[1])
            return {
                "dify_model_identity": FILE_IDENTITY,
                "id": None,
                "tenant_id": tenant_id,
                "type": declared if declared != "custom" else file_type_of(extension, mime),
                "transfer_method": "remote_url",
                "remote_url": url,
                "related_id": None,
                "filename": filename,
                "extension": extension,
                "mime_type": mime,
                "size": -1,
                "url": url,
            }
        raise FileServiceError(f"{where}.transfer_method must be 'local_file' or 'remote_url', not {method!r}")

    # -- reading --------------------------------------------------------------------------------------

    async def get(self, tenant_id: str, file_id: str) -> FileRecord:
        """The record of a file of the workspace; :class:`NoSuchFile` otherwise."""
        record = await self.records.get(file_id)
        if record is None or record.tenant_id != tenant_id:
            raise NoSuchFile(f"there is no file {file_id!r} in this workspace", file_id=file_id)
        return record

    async def read(self, tenant_id: str, file_id: str, *, max_bytes: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of a file of the workspace, as the backend streams them; :class:`FileTooLarge`
        before any byte when the file is larger than ``max_bytes``."""
        record = await self.get(tenant_id, file_id)
        if max_bytes is not None and record.size > max_bytes:
            raise FileTooLarge(
                f"file {record.name!r} is {_readable(record.size)}, more than the {_readable(max_bytes)} allowed",
                size=record.size,
                limit=max_bytes,
            )
        async for piece in self.storage.load(record.storage_key):
            yield piece

    async def open_signed(
        self, file_id: str, *, timestamp: str, nonce: str, sign: str, purpose: str = FILE_PREVIEW
    ) -> tuple[FileRecord, AsyncIterator[bytes]]:
        """A file a signed URL points at (``/files/{id}/file-preview``, ``/image-preview``): its record
        and its bytes. The signature is the authority, as in Dify: no workspace is asked for."""
        if not self.signer.verify(file_id, timestamp=timestamp, nonce=nonce, sign=sign, purpose=purpose):
            raise FileAccessDenied("the file URL's signature is invalid or has expired")
        record = await self.records.get(file_id)
        if record is None:
            raise NoSuchFile(f"there is no file {file_id!r}", file_id=file_id)
        if purpose == IMAGE_PREVIEW and file_type_of(record.extension, record.mime_type) != "image":
            raise UnsupportedFileType(f"{record.name!r} is not an image", file_id=file_id)
        return record, self.storage.load(record.storage_key)

    async def delete(self, tenant_id: str, file_id: str) -> None:
        """Remove a file of the workspace: its bytes, then its record."""
        record = await self.get(tenant_id, file_id)
        await self.storage.delete(record.storage_key)
        await self.records.delete(file_id)
