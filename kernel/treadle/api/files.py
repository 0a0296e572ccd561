"""Signed file URLs: ``GET /files/{file_id}/file-preview`` and ``/image-preview`` on the server root.

These are the URLs :meth:`treadle.files.FileService.preview_url` makes (``preview_url`` of an upload,
``url`` of a file value in run outputs and message files). They carry no app key: the signature
(``timestamp``, ``nonce``, ``sign``) is the authority, as in Dify, and it expires after the signer's
access timeout. A missing, wrong or expired signature answers 403 ``file_access_denied``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..files import FILE_PREVIEW, IMAGE_PREVIEW
from ..files.errors import FileServiceError
from .errors import ApiError
from .service import errors
from .service.requests import parse
from .service.routes.files import file_body
from .service.state import service_state

__all__ = ["FILE_ROUTES"]


class _SignedQuery(BaseModel):
    """The query string of a signed file URL."""

    model_config = ConfigDict(extra="ignore")

    timestamp: str = ""
    nonce: str = ""
    sign: str = ""
    as_attachment: bool = False


async def _signed(request: Request, purpose: str) -> Response:
    state = service_state(request)
    if state.files is None:
        raise errors.FILE_NOT_FOUND.error("This server keeps no uploaded files.")
    query = parse(_SignedQuery, dict(request.query_params), where="query")
    if not (query.timestamp and query.nonce and query.sign):
        raise errors.FILE_ACCESS_DENIED.error(
            "This file URL is not signed: it needs the timestamp, nonce and sign the server gave it."
        )
    file_id = request.path_params["file_id"]
    try:
        record, pieces = await state.files.open_signed(
            file_id, timestamp=query.timestamp, nonce=query.nonce, sign=query.sign, purpose=purpose
        )
    except FileServiceError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return await file_body(
        record, pieces, as_attachment=query.as_attachment,
        missing=errors.FILE_NOT_FOUND.error(f"The bytes of file {file_id!r} are no longer stored."),
    )


async def file_preview(request: Request) -> Response:
    """A file by its signed ``file-preview`` URL."""
    return await _signed(request, FILE_PREVIEW)


async def image_preview(request: Request) -> Response:
    """An image by its signed ``image-preview`` URL (an app's or a site's icon, an image upload)."""
    return await _signed(request, IMAGE_PREVIEW)


FILE_ROUTES = [
    Route("/files/{file_id}/file-preview", file_preview, methods=["GET"]),
    Route("/files/{file_id}/image-preview", image_preview, methods=["GET"]),
]
