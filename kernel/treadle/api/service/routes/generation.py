"""Generation: ``/chat-messages``, ``/completion-messages``, ``/workflows/run`` (also of one published
version), and the stop endpoints (API-CHAT-SEND, API-COMPL-SEND, API-WF-RUN, API-WF-RUN-ID,
API-CHAT-STOP, API-COMPL-STOP, API-WF-STOP)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ....files.errors import FileServiceError
from .. import errors
from ..requests import (
    ChatMessageRequest,
    CompletionMessageRequest,
    InputFile,
    StopRequest,
    WorkflowRunRequest,
)
from ..runs import RunExecution, RunPlan
from ..sse import sse_stream
from ..state import ServiceApp, ServiceState
from .common import authenticated, json_body, require_chat, require_workflow, respond

__all__ = ["ROUTES", "resolve_inputs"]

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


async def _files(state: ServiceState, app: ServiceApp, files: list[InputFile] | None) -> list[dict[str, Any]]:
    if not files:
        return []
    resolved = []
    for index, file in enumerate(files):
        mapping = file.model_dump(exclude_none=True)
        if state.files is None:
            if file.transfer_method == "local_file":
                raise errors.INVALID_PARAM.error("This server keeps no uploaded files.", params="files")
            resolved.append({**mapping, "remote_url": file.url, "filename": "", "extension": "", "size": -1})
            continue
        try:
            resolved.append(await state.files.file_from_mapping(app.tenant_id, mapping, where=f"files[{index}]"))
        except FileServiceError as exc:
            raise errors.INVALID_PARAM.error(str(exc), params="files") from None
    return resolved


def _is_file(value: Any) -> bool:
    return isinstance(value, dict) and "transfer_method" in value


async def resolve_inputs(state: ServiceState, app: ServiceApp, inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs with every file object (a file variable's value, or each item of a file list)
    resolved to the file it names: an upload of this workspace, or a remote URL (API-WF-RUN)."""
    if state.files is None or not any(
        _is_file(v) or (isinstance(v, list) and any(_is_file(i) for i in v)) for v in inputs.values()
    ):
        return inputs
    resolved = dict(inputs)
    try:
        for name, value in inputs.items():
            if _is_file(value):
                resolved[name] = await state.files.file_from_mapping(app.tenant_id, value, where=f"inputs.{name}")
            elif isinstance(value, list) and value and all(_is_file(item) for item in value):
                resolved[name] = [
                    await state.files.file_from_mapping(app.tenant_id, item, where=f"inputs.{name}[{index}]")
                    for index, item in enumerate(value)
                ]
    except FileServiceError as exc:
        raise errors.INVALID_PARAM.error(str(exc), params="inputs") from None
    return resolved


async def _answer(execution: RunExecution) -> Response:
    await execution.prepare()
    execution.start()
    if not execution.plan.streaming:
        await execution.wait()
        await execution.inputs_checked()
        return respond(execution.blocking_response())
    await execution.inputs_checked()
    return StreamingResponse(sse_stream(execution.events()), media_type="text/event-stream", headers=_SSE_HEADERS)


async def chat_messages(request: Request) -> Response:
    state, app = await authenticated(request)
    require_chat(app)
    body = await json_body(request, ChatMessageRequest)
    if body.workflow_id is not None:
        if app.mode != "advanced-chat":
            raise errors.BAD_REQUEST.error("workflow_id applies to advanced-chat (chatflow) apps only.")
        _check_uuid(body.workflow_id, "workflow_id")
    loaded = await state.load(app, body.workflow_id)
    end_user = await state.end_user(app, body.user)
    plan = RunPlan(
        app=app, loaded=loaded, end_user=end_user, inputs=await resolve_inputs(state, app, body.inputs),
        query=body.query,
        files=await _files(state, app, body.files), conversation_id=body.conversation_id or "",
        auto_generate_name=body.auto_generate_name, streaming=body.streaming,
    )
    return await _answer(RunExecution(state, plan))


async def completion_messages(request: Request) -> Response:
    state, app = await authenticated(request)
    if app.mode != "completion":
        raise errors.NOT_COMPLETION_APP.error()
    body = await json_body(request, CompletionMessageRequest)
    loaded = await state.load(app)
    end_user = await state.end_user(app, body.user)
    plan = RunPlan(
        app=app, loaded=loaded, end_user=end_user, inputs=await resolve_inputs(state, app, body.inputs),
        query=body.query or None, files=await _files(state, app, body.files), streaming=body.streaming,
    )
    return await _answer(RunExecution(state, plan))


async def _run_workflow(request: Request, workflow_id: str | None) -> Response:
    state, app = await authenticated(request)
    require_workflow(app)
    body = await json_body(request, WorkflowRunRequest)
    if workflow_id is not None:
        _check_uuid(workflow_id, "workflow_id")
    loaded = await state.load(app, workflow_id)
    end_user = await state.end_user(app, body.user)
    plan = RunPlan(
        app=app, loaded=loaded, end_user=end_user, inputs=await resolve_inputs(state, app, body.inputs),
        files=await _files(state, app, body.files), streaming=body.streaming,
    )
    return await _answer(RunExecution(state, plan))


async def workflows_run(request: Request) -> Response:
    return await _run_workflow(request, None)


async def workflow_version_run(request: Request) -> Response:
    return await _run_workflow(request, request.path_params["workflow_id"])


def _check_uuid(value: str, field: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise errors.BAD_REQUEST.error(
            f"Invalid {field} format: {value!r} is not a UUID.", params=field
        ) from None


async def _stop(request: Request, *, modes: tuple[str, ...], wrong: errors.ServiceError) -> Response:
    state, app = await authenticated(request)
    if app.mode not in modes:
        raise wrong.error()
    body = await json_body(request, StopRequest)
    end_user = await state.end_user(app, body.user)
    # The task may run in another server process: it is stopped there (the answer is the same
    # whether or not there was such a task of this user's to stop).
    await state.tasks.request_stop(request.path_params["task_id"], app_id=app.id, end_user_id=end_user.id)
    return respond({"result": "success"})


async def chat_stop(request: Request) -> Response:
    return await _stop(request, modes=("chat", "agent-chat", "advanced-chat"), wrong=errors.NOT_CHAT_APP)


async def completion_stop(request: Request) -> Response:
    return await _stop(request, modes=("completion",), wrong=errors.NOT_COMPLETION_APP)


async def workflow_stop(request: Request) -> Response:
    return await _stop(request, modes=("workflow",), wrong=errors.NOT_WORKFLOW_APP)


ROUTES = [
    Route("/chat-messages", chat_messages, methods=["POST"]),
    Route("/chat-messages/{task_id}/stop", chat_stop, methods=["POST"]),
    Route("/completion-messages", completion_messages, methods=["POST"]),
    Route("/completion-messages/{task_id}/stop", completion_stop, methods=["POST"]),
    Route("/workflows/run", workflows_run, methods=["POST"]),
    Route("/workflows/{workflow_id}/run", workflow_version_run, methods=["POST"]),
    Route("/workflows/tasks/{task_id}/stop", workflow_stop, methods=["POST"]),
]
