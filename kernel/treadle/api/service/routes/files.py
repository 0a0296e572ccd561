"""Files: ``POST /files/upload`` and ``GET /files/{file_id}/preview`` (API-FILE-UPLOAD, API-FILE-PREVIEW).

An upload belongs to the app key's workspace and is recorded as made by the end user the form's
``user`` names. A preview serves the bytes of a file of this app: one its end users uploaded, or one
a message of the app carries. A file of another workspace is reported as not found, never as
forbidden, so its existence does not leak; a file of another app of the same workspace is forbidden.

The multipart reading here (:func:`single_upload`) is shared with ``POST /audio-to-text``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Text, cast, select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from treadle_sdk.errors import ErrorCode, PluginError

from ....files import FileRecord, FileService
from ....files.errors import FileServiceError
from ....store import EndUser, Message
from ...errors import ApiError
from .. import errors
from ..requests import FileUploadForm, parse
from ..state import ServiceApp, ServiceState
from .common import authenticated, query_params, respond

__all__ = ["ROUTES", "Upload", "file_body", "file_service", "single_upload"]

#: Multipart parts a request may hold at most; more is not a request any client of ours sends.
_MAX_PARTS = 32
#: What a multipart body adds around its file (boundaries, headers, the ``user`` field).
_ENVELOPE_SLACK = 1024 * 1024
#: Cached by clients for this long, as Dify's preview does (the URL is the app key's, not public).
_CACHE_CONTROL = "private, max-age=3600"


@dataclass(frozen=True, slots=True)
class Upload:
    """The one file of a multipart request, read, and the request's ``user`` field."""

    filename: str
    content_type: str
    content: bytes
    user: str | None


def file_service(state: ServiceState) -> FileService:
    """The server's file service; a clear error when this server keeps no files."""
    if state.files is None:
        raise errors.BAD_REQUEST.error("This server keeps no uploaded files (no storage backend is configured).")
    return state.files


def _as_api_error(exc: FileServiceError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


async def single_upload(
    request: Request,
    *,
    missing: errors.ServiceError,
    unnamed: errors.ServiceError,
    too_large: errors.ServiceError,
    max_bytes: int,
) -> Upload:
    """The multipart request's one file (field ``file``) and its ``user`` field.

    No ``file`` part answers ``missing``, one without a filename ``unnamed``; more than one file part
    ``too_many_files``; a body larger than ``max_bytes`` (plus the multipart envelope) ``too_large``
    before it is read.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _ENVELOPE_SLACK:
        raise too_large.error(
            f"The request body is {int(declared)} bytes; an upload here may be at most {max_bytes} bytes."
        )
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise missing.error(
            f"{missing.message} Send multipart/form-data with the file in the field 'file' "
            f"(the request's Content-Type is {content_type or 'not set'!r})."
        )
    try:
        form = await request.form(max_files=_MAX_PARTS, max_fields=_MAX_PARTS)
    except (MultiPartException, HTTPException) as exc:
        message = exc.message if isinstance(exc, MultiPartException) else str(exc.detail)
        raise errors.INVALID_PARAM.error(f"The multipart body cannot be read: {message}") from None
    try:
        files = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
        chosen = [value for key, value in files if key == "file"]
        if not chosen:
            if isinstance(form.get("file"), str):
                # A part without a filename arrives as text: the client meant a file but named none.
                raise unnamed.error(
                    f"{unnamed.message} The part 'file' has no filename, so it was read as text: send the "
                    "file with a filename in its Content-Disposition."
                )
            raise missing.error()
        if len(files) > 1:
            names = sorted({key for key, _ in files})
            raise errors.TOO_MANY_FILES.error(
                f"Only one file is allowed; the request holds {len(files)} file parts ({', '.join(names)})."
            )
        upload = chosen[0]
        user = form.get("user")
        if user is not None and not isinstance(user, str):
            raise errors.INVALID_PARAM.error("user must be a text field, not a file (in the form data).",
                                             params="user")
        fields = parse(FileUploadForm, {"user": user} if user is not None else {}, where="form")
        if upload.size is not None and upload.size > max_bytes:
            raise too_large.error(
                f"{too_large.message} {upload.filename!r} is {upload.size} bytes; the limit is {max_bytes} bytes."
            )
        content = await upload.read()
        return Upload(
            filename=upload.filename or "", content_type=upload.content_type or "", content=content, user=fields.user
        )
    finally:
        await form.close()


async def upload(request: Request) -> Response:
    """API-FILE-UPLOAD: store the one file of the form; 201 with its record."""
    state, app = await authenticated(request)
    files = file_service(state)
    largest = max(
        files.limits.file_size_mb, files.limits.image_file_size_mb, files.limits.video_file_size_mb,
        files.limits.audio_file_size_mb,
    ) * 1024 * 1024
    received = await single_upload(
        request, missing=errors.NO_FILE_UPLOADED, unnamed=errors.FILENAME_NOT_EXISTS, too_large=errors.FILE_TOO_LARGE,
        max_bytes=largest,
    )
    end_user = await state.end_user(app, received.user)
    try:
        record = await files.upload(
            app.tenant_id, filename=received.filename, content=received.content, mime_type=received.content_type,
            created_by=end_user.id, created_by_role="end_user",
        )
    except FileServiceError as exc:
        raise _as_api_error(exc) from None
    return respond(files.upload_response(record), 201)


class _PreviewQuery(BaseModel):
    """The query string of ``GET /files/{file_id}/preview``."""

    model_config = ConfigDict(extra="ignore")

    as_attachment: bool = False
    user: str | None = None


async def _used_by_app(state: ServiceState, app: ServiceApp, record: FileRecord) -> bool:
    """Whether ``record`` is a file of ``app``: uploaded by one of its end users, or carried by one
    of its messages (``message_files``)."""
    async with state.db.session() as session:
        if record.created_by_role == "end_user":
            uploader = await session.scalar(
                select(EndUser.id).where(EndUser.id == record.created_by, EndUser.app_id == app.id)
            )
            if uploader is not None:
                return True
        candidates = await session.scalars(
            select(Message.files)
            .where(Message.app_id == app.id, cast(Message.files, Text).contains(record.id, autoescape=True))
            .limit(20)
        )
        for message_files in candidates:
            for item in message_files or []:
                if isinstance(item, dict) and record.id in (
                    item.get("id"), item.get("related_id"), item.get("upload_file_id")
                ):
                    return True
    return False


async def file_body(
    record: FileRecord, pieces: AsyncIterator[bytes], *, as_attachment: bool, missing: ApiError
) -> Response:
    """The stored bytes of ``record`` as the response: its MIME type and size, inline or as an
    attachment named after the file. The first piece is read before the answer starts, so a file
    whose bytes are gone answers ``missing`` rather than a broken body."""
    try:
        first = await anext(pieces, b"")
    except PluginError as exc:
        if exc.code is ErrorCode.NOT_FOUND:
            raise missing from None
        raise

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for piece in pieces:
            yield piece

    headers = {
        "Cache-Control": _CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    if record.size > 0:
        headers["Content-Length"] = str(record.size)
    if as_attachment:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(record.name, safe='')}"
    else:
        # Shown in a browser, an uploaded page or drawing may not run scripts as this site.
        headers["Content-Security-Policy"] = "sandbox"
    return StreamingResponse(body(), media_type=record.mime_type or "application/octet-stream", headers=headers)


async def preview(request: Request) -> Response:
    """API-FILE-PREVIEW: the bytes of a file of this app, inline or as an attachment."""
    state, app = await authenticated(request)
    files = file_service(state)
    query = query_params(request, _PreviewQuery)
    file_id = request.path_params["file_id"]
    try:
        record = await files.get(app.tenant_id, file_id)
    except FileServiceError as exc:
        raise _as_api_error(exc) from None
    if not await _used_by_app(state, app, record):
        raise errors.FILE_ACCESS_DENIED.error(
            "You do not have permission to access this file: it was not uploaded through this app and no "
            "message of this app carries it."
        )
    return await file_body(
        record, files.storage.load(record.storage_key), as_attachment=query.as_attachment,
        missing=errors.FILE_NOT_FOUND.error(f"The bytes of file {file_id!r} are no longer stored."),
    )


ROUTES = [
    Route("/files/upload", upload, methods=["POST"]),
    Route("/files/{file_id}/preview", preview, methods=["GET"]),
]
