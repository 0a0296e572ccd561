"""Datasets: ``/datasets`` and ``/datasets/{dataset_id}``, and retrieval from one
(API-KB-CREATE, API-KB-LIST, API-KB-GET, API-KB-UPDATE, API-KB-DELETE, API-KB-RETRIEVE, and
``POST /datasets/{dataset_id}/hit-testing``, the console's name for the same retrieval)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service.routes.common import json_body, query_params, respond
from .common import knowledge_bases, knowledge_caller, knowledge_endpoint
from .requests import DatasetCreateRequest, DatasetListQuery, DatasetUpdateRequest, RetrieveRequest

__all__ = ["ROUTES"]


@knowledge_endpoint
async def create_dataset(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, DatasetCreateRequest)
    created = await knowledge_bases(request).create(caller, **body.model_dump())
    return respond(created)


@knowledge_endpoint
async def list_datasets(request: Request) -> Response:
    caller = await knowledge_caller(request)
    query = query_params(request, DatasetListQuery)
    tag_ids = [value for value in request.query_params.getlist("tag_ids") if value]
    tag_ids += [value for value in request.query_params.getlist("tag_ids[]") if value]
    found = await knowledge_bases(request).list_datasets(
        caller, page=query.page, limit=query.limit, keyword=query.keyword, tag_ids=tag_ids
    )
    return respond(found)


@knowledge_endpoint
async def get_dataset(request: Request) -> Response:
    caller = await knowledge_caller(request)
    return respond(await knowledge_bases(request).get(caller, request.path_params["dataset_id"]))


@knowledge_endpoint
async def update_dataset(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, DatasetUpdateRequest)
    changes = body.model_dump(include=body.model_fields_set)
    return respond(await knowledge_bases(request).update(caller, request.path_params["dataset_id"], changes))


@knowledge_endpoint
async def delete_dataset(request: Request) -> Response:
    caller = await knowledge_caller(request)
    await knowledge_bases(request).delete(caller, request.path_params["dataset_id"])
    return Response(status_code=204)


async def _retrieve(request: Request, source: str) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, RetrieveRequest)
    found = await knowledge_bases(request).retrieve(
        caller, request.path_params["dataset_id"], query=body.query, retrieval_model=body.retrieval_model,
        external_retrieval_model=body.external_retrieval_model, source=source,
    )
    return respond(found)


@knowledge_endpoint
async def retrieve(request: Request) -> Response:
    return await _retrieve(request, "api")


@knowledge_endpoint
async def hit_testing(request: Request) -> Response:
    return await _retrieve(request, "hit_testing")


ROUTES = [
    Route("/datasets", create_dataset, methods=["POST"]),
    Route("/datasets", list_datasets, methods=["GET"]),
    Route("/datasets/{dataset_id}", get_dataset, methods=["GET"]),
    Route("/datasets/{dataset_id}", update_dataset, methods=["PATCH"]),
    Route("/datasets/{dataset_id}", delete_dataset, methods=["DELETE"]),
    Route("/datasets/{dataset_id}/retrieve", retrieve, methods=["POST"]),
    Route("/datasets/{dataset_id}/hit-testing", hit_testing, methods=["POST"]),
]
