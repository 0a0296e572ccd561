"""Documents of a dataset (API-DOC-CREATE-TEXT, API-DOC-CREATE-FILE, API-DOC-LIST, API-DOC-GET,
API-DOC-DELETE, API-DOC-DOWNLOAD, API-DOC-ZIP, API-DOC-INDEX-STATUS, API-DOC-UPDATE-TEXT,
API-DOC-UPDATE-FILE, API-DOC-STATUS-BATCH).

Create-by-file takes its settings as a JSON *string* in the form field ``data``, and reports a file
too large or of a type a knowledge base cannot read as 400 ``invalid_param`` (not 413/415 as the app
upload does): Dify's quirks, kept.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...knowledge.documents import DocumentConfig
from ..errors import ApiError
from ..service import errors
from ..service.requests import parse
from ..service.routes.common import json_body, query_params, respond
from ..service.routes.files import Upload, single_upload
from .common import knowledge_bases, knowledge_caller, knowledge_endpoint
from .requests import (
    CreateByTextRequest,
    DocumentData,
    DocumentGetQuery,
    DocumentIdsRequest,
    DocumentListQuery,
    DocumentsZipRequest,
    UpdateByTextRequest,
)

__all__ = ["ROUTES"]

#: The size error of create-by-file: Dify answers it as a parameter error.
_FILE_SIZE_EXCEEDED = errors.ServiceError(400, "invalid_param", "File size exceeded.")
_METADATA_MODES = ("all", "only", "without")


def _config(data: DocumentData) -> DocumentConfig:
    return DocumentConfig(
        indexing_technique=data.indexing_technique, doc_form=data.doc_form, doc_language=data.doc_language,
        process_rule=data.process_rule, retrieval_model=data.retrieval_model, embedding_model=data.embedding_model,
        embedding_model_provider=data.embedding_model_provider,
    )


async def _upload(request: Request) -> tuple[Upload, DocumentData, bool]:
    """The form's file and its ``data`` settings (a JSON string); whether ``data`` was sent."""
    bases = knowledge_bases(request)
    limit_mb = bases.files.limits.file_size_mb if bases.files is not None else 15
    upload = await single_upload(
        request, missing=errors.NO_FILE_UPLOADED, unnamed=errors.FILENAME_NOT_EXISTS, too_large=_FILE_SIZE_EXCEEDED,
        max_bytes=limit_mb * 1024 * 1024,
    )
    form = await request.form()  # read (and kept) by single_upload
    raw = form.get("data")
    if raw is None or raw == "":
        return upload, DocumentData(), False
    if not isinstance(raw, str):
        raise errors.INVALID_PARAM.error("data must be a text field holding JSON, not a file.", params="data")
    try:
        decoded: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.INVALID_PARAM.error(f"data is not valid JSON: {exc}.", params="data") from None
    return upload, parse(DocumentData, decoded, where="form"), True


@knowledge_endpoint
async def create_by_text(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, CreateByTextRequest)
    created = await knowledge_bases(request).documents.create_by_text(
        caller, request.path_params["dataset_id"], name=body.name, text=body.text, config=_config(body)
    )
    return respond(created)


@knowledge_endpoint
async def create_by_file(request: Request) -> Response:
    caller = await knowledge_caller(request)
    upload, data, _ = await _upload(request)
    created = await knowledge_bases(request).documents.create_by_file(
        caller, request.path_params["dataset_id"], filename=upload.filename, content=upload.content,
        mime_type=upload.content_type, config=_config(data),
    )
    return respond(created)


@knowledge_endpoint
async def list_documents(request: Request) -> Response:
    caller = await knowledge_caller(request)
    query = query_params(request, DocumentListQuery)
    found = await knowledge_bases(request).documents.list_documents(
        caller, request.path_params["dataset_id"], page=query.page, limit=query.limit, keyword=query.keyword,
        status=query.status,
    )
    return respond(found)


@knowledge_endpoint
async def get_document(request: Request) -> Response:
    caller = await knowledge_caller(request)
    query = query_params(request, DocumentGetQuery)
    if query.metadata not in _METADATA_MODES:
        raise ApiError(400, "invalid_metadata", f"Invalid metadata value: {query.metadata}", params="metadata")
    found = await knowledge_bases(request).documents.get(
        caller, request.path_params["dataset_id"], request.path_params["document_id"], metadata=query.metadata
    )
    return respond(found)


@knowledge_endpoint
async def delete_document(request: Request) -> Response:
    caller = await knowledge_caller(request)
    await knowledge_bases(request).documents.delete(
        caller, request.path_params["dataset_id"], request.path_params["document_id"]
    )
    return Response(status_code=204)


@knowledge_endpoint
async def indexing_status(request: Request) -> Response:
    caller = await knowledge_caller(request)
    found = await knowledge_bases(request).documents.indexing_status(
        caller, request.path_params["dataset_id"], request.path_params["batch"]
    )
    return respond(found)


@knowledge_endpoint
async def update_by_text(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, UpdateByTextRequest)
    updated = await knowledge_bases(request).documents.update(
        caller, request.path_params["dataset_id"], request.path_params["document_id"], name=body.name,
        text=body.text, config=_config(body),
    )
    return respond(updated)


@knowledge_endpoint
async def update_by_file(request: Request) -> Response:
    caller = await knowledge_caller(request)
    upload, data, _ = await _upload(request)
    updated = await knowledge_bases(request).documents.update(
        caller, request.path_params["dataset_id"], request.path_params["document_id"],
        upload=(upload.filename, upload.content, upload.content_type), config=_config(data),
    )
    return respond(updated)


@knowledge_endpoint
async def set_status(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, DocumentIdsRequest)
    await knowledge_bases(request).documents.set_status(
        caller, request.path_params["dataset_id"], request.path_params["action"], body.document_ids
    )
    return respond({"result": "success"})


@knowledge_endpoint
async def download(request: Request) -> Response:
    caller = await knowledge_caller(request)
    found = await knowledge_bases(request).documents.download_url(
        caller, request.path_params["dataset_id"], request.path_params["document_id"]
    )
    return respond(found)


@knowledge_endpoint
async def download_zip(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, DocumentsZipRequest)
    archive = await knowledge_bases(request).documents.zip_originals(
        caller, request.path_params["dataset_id"], body.document_ids
    )
    return Response(archive, media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="documents.zip"'})


ROUTES = [
    Route("/datasets/{dataset_id}/document/create-by-text", create_by_text, methods=["POST"]),
    Route("/datasets/{dataset_id}/document/create_by_text", create_by_text, methods=["POST"]),
    Route("/datasets/{dataset_id}/document/create-by-file", create_by_file, methods=["POST"]),
    Route("/datasets/{dataset_id}/document/create_by_file", create_by_file, methods=["POST"]),
    Route("/datasets/{dataset_id}/documents", list_documents, methods=["GET"]),
    Route("/datasets/{dataset_id}/documents/download-zip", download_zip, methods=["POST"]),
    Route("/datasets/{dataset_id}/documents/status/{action}", set_status, methods=["PATCH"]),
    Route("/datasets/{dataset_id}/documents/{batch}/indexing-status", indexing_status, methods=["GET"]),
    Route("/datasets/{dataset_id}/documents/{document_id}", get_document, methods=["GET"]),
    Route("/datasets/{dataset_id}/documents/{document_id}", delete_document, methods=["DELETE"]),
    Route("/datasets/{dataset_id}/documents/{document_id}/download", download, methods=["GET"]),
    Route("/datasets/{dataset_id}/documents/{document_id}/update-by-text", update_by_text, methods=["POST"]),
    Route("/datasets/{dataset_id}/documents/{document_id}/update_by_text", update_by_text, methods=["POST"]),
    Route("/datasets/{dataset_id}/documents/{document_id}/update-by-file", update_by_file, methods=["POST"]),
    Route("/datasets/{dataset_id}/documents/{document_id}/update_by_file", update_by_file, methods=["POST"]),
]
