"""One app as one MCP tool (PUB-MCP-SERVER): the tool's description and input schema, and a call
run through the same path as a Service API request.

The input schema is the app's input form: each input field of the Start node (or of a model_config
app's form) is a property with its JSON type, its options as an ``enum``, its length limit, and a
description — the one set on the app's MCP server for that input, else the field's hint, else its
label. Chat apps (chat, agent-chat, advanced-chat) take the message as ``query`` and may continue a
conversation with the ``conversation_id`` an earlier call returned.

The result of a workflow is its outputs, as JSON text and as structured content; of a chat or
completion app, the answer as text (and, as structured content, the answer with the conversation's
id). While the run goes on, each node started and finished, and the answer's text as it streams,
is sent as a progress notification when the client asked for progress. A call the client cancels
(or abandons by closing its connection) stops the run. A run that fails, and a call
refused before it runs (bad arguments, an app with no published version, too many requests), come
back as a tool error carrying the message: never as a protocol error.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from ...runtime.mcp_servers import McpServerView
from ..errors import ApiError
from ..service.routes.app_info import input_fields
from ..service.routes.generation import resolve_inputs
from ..service.runs import RunExecution, RunPlan
from ..service.state import LoadedApp, ServiceApp, ServiceState

__all__ = ["MCP_END_USER", "AppTarget", "ProgressFn", "call_app_tool", "describe_app_tool", "tool_name"]

#: The end user MCP calls run as (one per app): the conversations they begin belong to it.
MCP_END_USER = "mcp-client"
#: How often streamed answer text is sent as a progress notification, at most (seconds).
TEXT_PROGRESS_INTERVAL = 0.25
#: The longest message a progress notification carries.
_PROGRESS_MESSAGE_CHARS = 500
_CHAT_MODES = frozenset({"chat", "agent-chat", "advanced-chat"})
_TOOL_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_QUERY, _CONVERSATION = "query", "conversation_id"

#: Sends one progress notification: (message). Absent when the client asked for none.
ProgressFn = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class AppTarget:
    """The app a request reaches, with the server's settings (None: run locally, no server row)."""

    state: ServiceState
    app: ServiceApp
    server: McpServerView | None = None


def tool_name(app: ServiceApp) -> str:
    """The app's name as an MCP tool name (letters, digits, ``_ . -``; at most 128 characters)."""
    name = _TOOL_NAME_UNSAFE.sub("_", app.name).strip("_.-")[:128]
    return name or f"app_{app.id.replace('-', '')[:12]}"


def _json_type(field: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(field.get("type") or "text-input")
    if kind == "number":
        return {"type": "number"}
    if kind == "checkbox":
        return {"type": "boolean"}
    if kind == "json_object":
        return {"type": "object"}
    if kind == "select":
        options = [str(option) for option in field.get("options") or [] if isinstance(option, str | int | float)]
        return {"type": "string", "enum": options} if options else {"type": "string"}
    if kind in ("file", "file-list"):
        file_schema = {
            "type": "object",
            "description": 'A file by URL: {"transfer_method": "remote_url", "url": "https://...", "type": '
            '"document"} (or an upload of this server: {"transfer_method": "local_file", "upload_file_id": ...}).',
            "properties": {
                "transfer_method": {"type": "string", "enum": ["remote_url", "local_file"]},
                "url": {"type": "string"},
                "upload_file_id": {"type": "string"},
                "type": {"type": "string", "enum": ["document", "image", "audio", "video", "custom"]},
            },
            "required": ["transfer_method"],
        }
        return file_schema if kind == "file" else {"type": "array", "items": file_schema}
    schema: dict[str, Any] = {"type": "string"}
    max_length = field.get("max_length")
    if isinstance(max_length, int) and not isinstance(max_length, bool) and max_length > 0:
        schema["maxLength"] = max_length
    return schema


def _description(field: Mapping[str, Any], overrides: Mapping[str, str]) -> str:
    name = str(field.get("variable"))
    for candidate in (overrides.get(name), field.get("hint"), field.get("description"), field.get("label")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return name


def input_schema(app: ServiceApp, loaded: LoadedApp, overrides: Mapping[str, str]) -> dict[str, Any]:
    """The tool's input schema: the app's input fields, and the chat message for chat apps."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    if app.mode in _CHAT_MODES:
        properties[_QUERY] = {"type": "string", "description": overrides.get(_QUERY) or "The message to the app."}
        required.append(_QUERY)
    for field in input_fields(app, loaded):
        name = field.get("variable")
        if not isinstance(name, str) or not name or name in properties:
            continue
        schema = {**_json_type(field), "description": _description(field, overrides)}
        default = field.get("default")
        if default not in (None, ""):
            schema["default"] = default
        properties[name] = schema
        if field.get("required"):
            required.append(name)
    if app.mode in _CHAT_MODES:
        properties[_CONVERSATION] = {
            "type": "string",
            "description": "Continue the conversation with this id (from an earlier call's result); "
            "leave it out to start a new one.",
        }
    return {"type": "object", "properties": properties, "required": required}


async def describe_app_tool(target: AppTarget) -> types.Tool:
    """The app as a tool (raises :class:`ApiError` when the app cannot run, e.g. never published)."""
    app = target.app
    loaded = await target.state.load(app)
    server = target.server
    overrides = server.parameters if server is not None else {}
    description = (server.description if server is not None else "") or app.description
    return types.Tool(
        name=tool_name(app),
        title=app.name,
        description=description or f"Run the {app.mode} app {app.name!r}.",
        input_schema=input_schema(app, loaded, overrides),
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


class _Progress:
    """Turns a run's Dify events into progress messages: nodes as they start and finish, and the
    answer's text at most every ``TEXT_PROGRESS_INTERVAL``."""

    def __init__(self, send: ProgressFn) -> None:
        self._send = send
        self._text: list[str] = []
        self._last = 0.0

    async def on(self, payload: Mapping[str, Any]) -> None:
        event = payload.get("event")
        data = payload.get("data")
        if not isinstance(data, Mapping):
            data = {}
        if event in ("node_started", "node_finished") and not data.get("iteration_id") and not data.get("loop_id"):
            await self.flush()
            title = data.get("title") or data.get("node_id") or "a node"
            if event == "node_started":
                await self._send(f"Running {title}")
            else:
                status = data.get("status") or "finished"
                await self._send(f"{title} {status}" + (f": {data.get('error')}" if data.get("error") else ""))
        elif event in ("message", "agent_message"):
            self._text.append(str(payload.get("answer") or ""))
        elif event == "text_chunk":
            self._text.append(str(data.get("text") or ""))
        if self._text and time.monotonic() - self._last >= TEXT_PROGRESS_INTERVAL:
            await self.flush()

    async def flush(self) -> None:
        text = "".join(self._text)
        self._text.clear()
        if text:
            self._last = time.monotonic()
            await self._send(text[-_PROGRESS_MESSAGE_CHARS:])


async def call_app_tool(
    target: AppTarget, name: str, arguments: Mapping[str, Any] | None, progress: ProgressFn | None = None
) -> types.CallToolResult:
    """Run the app with ``arguments``; its result, or a tool error saying what went wrong."""
    app, state = target.app, target.state
    expected = tool_name(app)
    if name != expected:
        return _error(f"This server has one tool, {expected!r}: there is no tool {name!r}.")
    arguments = dict(arguments or {})
    try:
        loaded = await state.load(app)
        query: str | None = None
        conversation_id = ""
        if app.mode in _CHAT_MODES:
            query = arguments.pop(_QUERY, None)
            if not isinstance(query, str) or not query.strip():
                return _error(f"'{_QUERY}' is required: the message to the app, as a non-empty string.")
            conversation = arguments.pop(_CONVERSATION, None)
            if conversation is not None and not isinstance(conversation, str):
                return _error(f"'{_CONVERSATION}' must be a string (the id an earlier call returned).")
            conversation_id = conversation or ""
        names = {str(field.get("variable")) for field in input_fields(app, loaded)}
        unknown = sorted(set(arguments) - names)
        if unknown:
            return _error(
                f"Unknown argument(s) {', '.join(map(repr, unknown))}: the app's inputs are "
                f"{', '.join(sorted(names)) or 'none'}."
            )
        end_user = await state.end_user(app, MCP_END_USER)
        plan = RunPlan(
            app=app, loaded=loaded, end_user=end_user, inputs=await resolve_inputs(state, app, arguments),
            query=query, conversation_id=conversation_id, streaming=progress is not None, invoke_from="mcp",
        )
        execution = RunExecution(state, plan)
        await execution.prepare()
        execution.start()
        relay = _Progress(progress) if progress is not None else None
        try:
            async for payload in execution.events():
                if relay is not None:
                    await relay.on(payload)
            if relay is not None:
                await relay.flush()
            translator = await execution.wait()
        except asyncio.CancelledError:
            # The client cancelled the call (or went away): the run stops, and keeps what it made.
            state.tasks.stop(execution.task_id, app_id=app.id, end_user_id=end_user.id)
            raise
        if execution.input_error is not None:
            return _error(f"The inputs are not valid: {execution.input_error}")
        body = execution.blocking_response()
    except ApiError as exc:
        return _error(exc.message)
    run = translator.run
    if run.status not in ("succeeded", "partial-succeeded"):
        return _error(f"The run {run.status}: {run.error or 'no reason given'}")
    if app.mode == "workflow":
        outputs = dict(run.outputs or {})
        text = json.dumps(outputs, ensure_ascii=False, default=str)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=outputs)
    structured: dict[str, Any] = {"answer": body.get("answer", "")}
    if body.get("conversation_id"):
        structured[_CONVERSATION] = body["conversation_id"]
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=str(body.get("answer", "")))], structured_content=structured
    )
