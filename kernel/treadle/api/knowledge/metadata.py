"""Metadata fields of a dataset and the values of its documents (API-META-CREATE, API-META-LIST,
API-META-UPDATE, API-META-DELETE, API-META-BUILTIN, API-META-BUILTIN-TOGGLE, API-META-DOC-BATCH)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service.routes.common import json_body, respond
from .common import knowledge_bases, knowledge_caller, knowledge_endpoint
from .requests import DocumentMetadataRequest, MetadataCreateRequest, MetadataRenameRequest

__all__ = ["ROUTES"]


@knowledge_endpoint
async def create_field(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, MetadataCreateRequest)
    made = await knowledge_bases(request).metadata.create(
        caller, request.path_params["dataset_id"], type=body.type, name=body.name
    )
    return respond(made, 201)


@knowledge_endpoint
async def list_fields(request: Request) -> Response:
    caller = await knowledge_caller(request)
    return respond(await knowledge_bases(request).metadata.list_fields(caller, request.path_params["dataset_id"]))


@knowledge_endpoint
async def rename_field(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, MetadataRenameRequest)
    found = await knowledge_bases(request).metadata.rename(
        caller, request.path_params["dataset_id"], request.path_params["metadata_id"], body.name
    )
    return respond(found)


@knowledge_endpoint
async def delete_field(request: Request) -> Response:
    caller = await knowledge_caller(request)
    await knowledge_bases(request).metadata.delete(
        caller, request.path_params["dataset_id"], request.path_params["metadata_id"]
    )
    return Response(status_code=204)


@knowledge_endpoint
async def built_in_fields(request: Request) -> Response:
    caller = await knowledge_caller(request)
    return respond(await knowledge_bases(request).metadata.built_in_fields(caller, request.path_params["dataset_id"]))


@knowledge_endpoint
async def toggle_built_in(request: Request) -> Response:
    caller = await knowledge_caller(request)
    await knowledge_bases(request).metadata.toggle_built_in(
        caller, request.path_params["dataset_id"], request.path_params["action"]
    )
    return respond({"result": "success"})


@knowledge_endpoint
async def update_documents(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, DocumentMetadataRequest)
    await knowledge_bases(request).metadata.update_documents(
        caller, request.path_params["dataset_id"], [operation.model_dump() for operation in body.operation_data]
    )
    return respond({"result": "success"})


ROUTES = [
    Route("/datasets/{dataset_id}/metadata", create_field, methods=["POST"]),
    Route("/datasets/{dataset_id}/metadata", list_fields, methods=["GET"]),
    Route("/datasets/{dataset_id}/metadata/built-in", built_in_fields, methods=["GET"]),
    Route("/datasets/{dataset_id}/metadata/built-in/{action}", toggle_built_in, methods=["POST"]),
    Route("/datasets/{dataset_id}/metadata/{metadata_id}", rename_field, methods=["PATCH"]),
    Route("/datasets/{dataset_id}/metadata/{metadata_id}", delete_field, methods=["DELETE"]),
    Route("/datasets/{dataset_id}/documents/metadata", update_documents, methods=["POST"]),
]
