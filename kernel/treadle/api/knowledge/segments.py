"""Chunks and child chunks of a document (API-CHUNK-CREATE, API-CHUNK-LIST, API-CHUNK-GET,
API-CHUNK-UPDATE, API-CHUNK-DELETE, API-CHILD-CREATE, API-CHILD-LIST, API-CHILD-UPDATE,
API-CHILD-DELETE). Updating a chunk is POST and updating a child chunk PATCH, as in Dify."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...store import SEGMENT_STATUSES
from ..service import errors
from ..service.routes.common import json_body, query_params, respond
from .common import knowledge_bases, knowledge_caller, knowledge_endpoint
from .requests import (
    ChildChunkListQuery,
    ChildChunkRequest,
    SegmentListQuery,
    SegmentsCreateRequest,
    SegmentUpdateRequest,
)

__all__ = ["ROUTES"]

_SEGMENTS = "/datasets/{dataset_id}/documents/{document_id}/segments"


def _ids(request: Request) -> tuple[str, str]:
    return request.path_params["dataset_id"], request.path_params["document_id"]


@knowledge_endpoint
async def create_segments(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, SegmentsCreateRequest)
    made = await knowledge_bases(request).segments.create(
        caller, *_ids(request), [segment.model_dump() for segment in body.segments]
    )
    return respond(made)


@knowledge_endpoint
async def list_segments(request: Request) -> Response:
    caller = await knowledge_caller(request)
    query = query_params(request, SegmentListQuery)
    statuses = [s for s in (*request.query_params.getlist("status"), *request.query_params.getlist("status[]")) if s]
    unknown = sorted(set(statuses) - set(SEGMENT_STATUSES))
    if unknown:
        raise errors.INVALID_PARAM.error(
            f"status: {unknown[0]!r} is not one of {', '.join(SEGMENT_STATUSES)} (in the query string).",
            params="status",
        )
    found = await knowledge_bases(request).segments.list_segments(
        caller, *_ids(request), page=query.page, limit=query.limit, status=statuses, keyword=query.keyword
    )
    return respond(found)


@knowledge_endpoint
async def get_segment(request: Request) -> Response:
    caller = await knowledge_caller(request)
    found = await knowledge_bases(request).segments.get(caller, *_ids(request), request.path_params["segment_id"])
    return respond(found)


@knowledge_endpoint
async def update_segment(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, SegmentUpdateRequest)
    changes = body.segment.model_dump(include=body.segment.model_fields_set)
    found = await knowledge_bases(request).segments.update(
        caller, *_ids(request), request.path_params["segment_id"], changes
    )
    return respond(found)


@knowledge_endpoint
async def delete_segment(request: Request) -> Response:
    caller = await knowledge_caller(request)
    await knowledge_bases(request).segments.delete(caller, *_ids(request), request.path_params["segment_id"])
    return Response(status_code=204)


@knowledge_endpoint
async def create_child(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, ChildChunkRequest)
    made = await knowledge_bases(request).segments.create_child(
        caller, *_ids(request), request.path_params["segment_id"], body.content
    )
    return respond(made)


@knowledge_endpoint
async def list_children(request: Request) -> Response:
    caller = await knowledge_caller(request)
    query = query_params(request, ChildChunkListQuery)
    found = await knowledge_bases(request).segments.list_children(
        caller, *_ids(request), request.path_params["segment_id"], page=query.page, limit=query.limit,
        keyword=query.keyword,
    )
    return respond(found)


@knowledge_endpoint
async def update_child(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, ChildChunkRequest)
    found = await knowledge_bases(request).segments.update_child(
        caller, *_ids(request), request.path_params["segment_id"], request.path_params["child_chunk_id"],
        body.content,
    )
    return respond(found)


@knowledge_endpoint
async def delete_child(request: Request) -> Response:
    caller = await knowledge_caller(request)
    await knowledge_bases(request).segments.delete_child(
        caller, *_ids(request), request.path_params["segment_id"], request.path_params["child_chunk_id"]
    )
    return Response(status_code=204)


ROUTES = [
    Route(_SEGMENTS, create_segments, methods=["POST"]),
    Route(_SEGMENTS, list_segments, methods=["GET"]),
    Route(_SEGMENTS + "/{segment_id}", get_segment, methods=["GET"]),
    Route(_SEGMENTS + "/{segment_id}", update_segment, methods=["POST"]),
    Route(_SEGMENTS + "/{segment_id}", delete_segment, methods=["DELETE"]),
    Route(_SEGMENTS + "/{segment_id}/child_chunks", create_child, methods=["POST"]),
    Route(_SEGMENTS + "/{segment_id}/child_chunks", list_children, methods=["GET"]),
    Route(_SEGMENTS + "/{segment_id}/child_chunks/{child_chunk_id}", update_child, methods=["PATCH"]),
    Route(_SEGMENTS + "/{segment_id}/child_chunks/{child_chunk_id}", delete_child, methods=["DELETE"]),
]
