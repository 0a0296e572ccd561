"""Knowledge tags (API-TAG-CREATE, API-TAG-LIST, API-TAG-UPDATE, API-TAG-DELETE, API-TAG-BIND,
API-TAG-UNBIND, API-TAG-OF-KB). Updating and deleting a tag name it in the body, not the path."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service.routes.common import json_body, respond
from .common import knowledge_bases, knowledge_caller, knowledge_endpoint
from .requests import TagBindRequest, TagCreateRequest, TagIdRequest, TagUnbindRequest, TagUpdateRequest

__all__ = ["ROUTES"]


@knowledge_endpoint
async def create_tag(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, TagCreateRequest)
    return respond(await knowledge_bases(request).tags.create(caller, body.name))


@knowledge_endpoint
async def list_tags(request: Request) -> Response:
    caller = await knowledge_caller(request)
    return respond(await knowledge_bases(request).tags.list_tags(caller))


@knowledge_endpoint
async def update_tag(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, TagUpdateRequest)
    return respond(await knowledge_bases(request).tags.rename(caller, body.tag_id, body.name))


@knowledge_endpoint
async def delete_tag(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, TagIdRequest)
    await knowledge_bases(request).tags.delete(caller, body.tag_id)
    return Response(status_code=204)


@knowledge_endpoint
async def bind(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, TagBindRequest)
    await knowledge_bases(request).tags.bind(caller, body.tag_ids, body.target_id)
    return Response(status_code=204)


@knowledge_endpoint
async def unbind(request: Request) -> Response:
    caller = await knowledge_caller(request)
    body = await json_body(request, TagUnbindRequest)
    await knowledge_bases(request).tags.unbind(caller, body.tag_id, body.target_id)
    return Response(status_code=204)


@knowledge_endpoint
async def dataset_tags(request: Request) -> Response:
    caller = await knowledge_caller(request)
    return respond(await knowledge_bases(request).tags.of_dataset(caller, request.path_params["dataset_id"]))


ROUTES = [
    Route("/datasets/tags", create_tag, methods=["POST"]),
    Route("/datasets/tags", list_tags, methods=["GET"]),
    Route("/datasets/tags", update_tag, methods=["PATCH"]),
    Route("/datasets/tags", delete_tag, methods=["DELETE"]),
    Route("/datasets/tags/binding", bind, methods=["POST"]),
    Route("/datasets/tags/unbinding", unbind, methods=["POST"]),
    Route("/datasets/{dataset_id}/tags", dataset_tags, methods=["GET"]),
]
