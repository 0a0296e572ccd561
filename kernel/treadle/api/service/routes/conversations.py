"""Conversations of an end user with a chat app: list, delete, rename, and their conversation variables
(API-CONV-LIST, API-CONV-DEL, API-CONV-RENAME, API-CONV-VARS, API-CONV-VAR-UPD).

Every lookup is scoped by the key's app and by the end user the ``user`` parameter names: another
user's conversation answers exactly as a missing one ("Conversation Not Exists."), so the API tells
nothing about conversations that are not the caller's.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from treadle_sdk.files import FILE_IDENTITY

from ....apps.features import ConversationNamer, fallback_name
from ....files.errors import FileServiceError
from ....store import Conversation, ConversationVariable, Message, NotFound, conversations_page, utcnow
from .. import errors
from ..requests import (
    ConversationDeleteRequest,
    ConversationListQuery,
    ConversationRenameRequest,
    ConversationVariablesQuery,
    ConversationVariableUpdateRequest,
)
from ..state import ServiceApp, ServiceState
from .common import authenticated, json_body, query_params, require_chat, respond

__all__ = ["ROUTES", "conversation_body", "find_conversation", "fresh_files", "timestamp"]

log = logging.getLogger(__name__)

VARIABLE_NOT_EXISTS = errors.ServiceError(404, "not_found", "Conversation Variable Not Exists.")
#: The longest conversation name the store keeps.
_MAX_NAME = 255
#: What ``variable_name`` may hold (Dify's rule: letters, digits, ``-``, ``_`` and ``.``).
_VARIABLE_NAME = re.compile(r"[\w.\-]+")


def timestamp(value: datetime | None) -> int | None:
    """Unix seconds (API-COMMON-TS)."""
    return None if value is None else int(value.timestamp())


def fresh_files(state: ServiceState, value: Any) -> Any:
    """``value`` with every uploaded file in it (a file value, or one in a list) given a freshly signed
    URL: the URL kept when the run began has expired by the time a history is read."""
    if isinstance(value, list):
        return [fresh_files(state, item) for item in value]
    if not isinstance(value, Mapping):
        return value
    if value.get("dify_model_identity") != FILE_IDENTITY:
        return {key: fresh_files(state, item) for key, item in value.items()}
    file_id = value.get("related_id") or value.get("id")
    if state.files is None or value.get("transfer_method") != "local_file" or not isinstance(file_id, str):
        return dict(value)
    return {**value, "url": state.files.signer.url(file_id)}


def conversation_body(state: ServiceState, conversation: Conversation) -> dict[str, Any]:
    """A conversation as the API shows it (Dify's simple conversation)."""
    return {
        "id": conversation.id,
        "name": conversation.name,
        "inputs": fresh_files(state, dict(conversation.inputs or {})),
        "status": conversation.status,
        "introduction": conversation.introduction,
        "created_at": timestamp(conversation.created_at),
        "updated_at": timestamp(conversation.updated_at),
    }


async def find_conversation(
    session: AsyncSession, app: ServiceApp, end_user_id: str, conversation_id: str
) -> Conversation:
    """The end user's conversation of the app that is not deleted; 404 "Conversation Not Exists." otherwise."""
    conversation = await session.scalar(select(Conversation).where(
        Conversation.id == conversation_id,
        Conversation.app_id == app.id,
        Conversation.end_user_id == end_user_id,
        Conversation.is_deleted.is_(False),
    ))
    if conversation is None:
        raise errors.CONVERSATION_NOT_EXISTS.error()
    return conversation


# -- conversations --------------------------------------------------------------------------------


async def list_conversations(request: Request) -> Response:
    """API-CONV-LIST: the user's conversations, most recently active first by default."""
    state, app = await authenticated(request)
    require_chat(app)
    query = query_params(request, ConversationListQuery)
    end_user = await state.end_user(app, query.user)
    async with state.db.session() as session:
        try:
            page = await conversations_page(
                session, app_id=app.id, end_user_id=end_user.id, last_id=query.last_id or None, limit=query.limit,
                sort_by=query.sort_by,
            )
        except NotFound as exc:
            raise errors.NOT_FOUND.error(exc.message) from None
        data = [conversation_body(state, row) for row in page.data]
    return respond({"limit": page.limit, "has_more": page.has_more, "data": data})


async def delete_conversation(request: Request) -> Response:
    """API-CONV-DEL: a soft delete (the rows stay for the logs); 204 with no body."""
    state, app = await authenticated(request)
    require_chat(app)
    body = await json_body(request, ConversationDeleteRequest)
    end_user = await state.end_user(app, body.user)
    async with state.db.session() as session:
        conversation = await find_conversation(session, app, end_user.id, request.path_params["conversation_id"])
        conversation.is_deleted = True
        conversation.updated_at = utcnow()
    return Response(status_code=204)


async def rename_conversation(request: Request) -> Response:
    """API-CONV-RENAME: the given name, or one the system model writes from the first message
    (its first words when the workspace has no default model or the model fails)."""
    state, app = await authenticated(request)
    require_chat(app)
    body = await json_body(request, ConversationRenameRequest)
    end_user = await state.end_user(app, body.user)
    conversation_id = request.path_params["conversation_id"]
    if not body.auto_generate:
        name = body.name or ""
        if len(name) > _MAX_NAME:
            raise errors.INVALID_PARAM.error(
                f"name: at most {_MAX_NAME} characters, got {len(name)} (in the JSON body).", params="name"
            )
        async with state.db.session() as session:
            conversation = await find_conversation(session, app, end_user.id, conversation_id)
            conversation.name = name
            conversation.updated_at = utcnow()
            await session.flush()
            answer = conversation_body(state, conversation)
        return respond(answer)
    async with state.db.session() as session:
        conversation = await find_conversation(session, app, end_user.id, conversation_id)
        first = await session.scalar(
            select(Message.query)
            .where(Message.conversation_id == conversation.id, Message.app_id == app.id)
            .order_by(Message.created_at.asc(), Message.id.asc())
            .limit(1)
        )
    if first is None:
        raise errors.MESSAGE_NOT_EXISTS.error()
    try:
        with state.supervisor.kernel_client(tenant_id=app.tenant_id) as kernel:
            name = await ConversationNamer(kernel).name(first)
    except Exception:  # the system model failing leaves the first words, as a new conversation gets
        log.warning("naming conversation %s failed", conversation_id, exc_info=True)
        name = fallback_name(first)
    async with state.db.session() as session:
        conversation = await find_conversation(session, app, end_user.id, conversation_id)
        conversation.name = name[:_MAX_NAME]
        await session.flush()
        answer = conversation_body(state, conversation)
    return respond(answer)


# -- conversation variables -----------------------------------------------------------------------


def _value_text(value: Any) -> str | None:
    """A variable's value as Dify sends it: a string (JSON text for anything but a string), or null."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def variable_body(row: ConversationVariable) -> dict[str, Any]:
    """A conversation variable as the API shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "value_type": row.value_type,
        "value": _value_text(row.value),
        "description": row.description,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
    }


async def list_variables(request: Request) -> Response:
    """API-CONV-VARS: a conversation's variables in the order they were made, ``last_id`` the cursor,
    ``variable_name`` a case-insensitive part of the name."""
    state, app = await authenticated(request)
    require_chat(app)
    query = query_params(request, ConversationVariablesQuery)
    if query.variable_name is not None and not _VARIABLE_NAME.fullmatch(query.variable_name):
        raise errors.INVALID_PARAM.error(
            "variable_name: only letters, digits, hyphens (-), underscores (_) and periods (.) are allowed "
            "(in the query string).", params="variable_name",
        )
    end_user = await state.end_user(app, query.user)
    async with state.db.session() as session:
        conversation = await find_conversation(session, app, end_user.id, request.path_params["conversation_id"])
        base = select(ConversationVariable).where(
            ConversationVariable.app_id == app.id, ConversationVariable.conversation_id == conversation.id
        )
        if query.variable_name:
            pattern = query.variable_name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            base = base.where(ConversationVariable.name.ilike(f"%{pattern}%", escape="\\"))
        statement = base
        if query.last_id:
            last = await session.scalar(base.where(ConversationVariable.id == query.last_id))
            if last is None:
                raise VARIABLE_NOT_EXISTS.error()
            statement = statement.where(or_(
                ConversationVariable.created_at > last.created_at,
                and_(ConversationVariable.created_at == last.created_at, ConversationVariable.id > last.id),
            ))
        rows = list(await session.scalars(
            statement.order_by(ConversationVariable.created_at.asc(), ConversationVariable.id.asc())
            .limit(query.limit + 1)
        ))
    return respond({
        "limit": query.limit,
        "has_more": len(rows) > query.limit,
        "data": [variable_body(row) for row in rows[:query.limit]],
    })


def _type_name(value: Any) -> str:
    """The type a JSON value is, in the words of variable types (``integer`` and ``float`` apart)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "file" if _is_file(value) else "object"
    if isinstance(value, list):
        kinds = {_type_name(item) for item in value}
        if kinds <= {"integer", "float"} and kinds:
            return "array[number]"
        return f"array[{kinds.pop()}]" if len(kinds) == 1 and kinds != {"none"} else "array[any]"
    return type(value).__name__


def _is_file(value: Any) -> bool:
    return isinstance(value, Mapping) and "transfer_method" in value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "secret": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": _is_number,
    "float": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, Mapping),
    "file": _is_file,
    "array[any]": lambda v: isinstance(v, list),
    "array[string]": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "array[number]": lambda v: isinstance(v, list) and all(_is_number(i) for i in v),
    "array[object]": lambda v: isinstance(v, list) and all(isinstance(i, Mapping) for i in v),
    "array[boolean]": lambda v: isinstance(v, list) and all(isinstance(i, bool) for i in v),
    "array[file]": lambda v: isinstance(v, list) and all(_is_file(i) for i in v),
}


def _check_type(value_type: str, value: Any) -> None:
    """400 ``bad_request`` unless ``value`` is of the variable's type (a number variable takes any number)."""
    check = _CHECKS.get(value_type)
    if check is None or check(value):
        return
    expected = "number" if value_type in ("integer", "float") else value_type
    raise errors.BAD_REQUEST.error(f"Value type mismatch: expected {expected}, got {_type_name(value)}.")


async def _resolved_files(state: ServiceState, app: ServiceApp, value_type: str, value: Any) -> Any:
    """File values named by the request (an upload id or a URL) as the file values runs hold."""
    if state.files is None or value_type not in ("file", "array[file]"):
        return value
    try:
        if value_type == "file":
            return await state.files.file_from_mapping(app.tenant_id, value, where="value")
        return [
            await state.files.file_from_mapping(app.tenant_id, item, where=f"value[{index}]")
            for index, item in enumerate(value)
        ]
    except FileServiceError as exc:
        raise errors.INVALID_PARAM.error(str(exc), params="value") from None


async def update_variable(request: Request) -> Response:
    """API-CONV-VAR-UPD: set a variable's value; the value must be of the variable's type."""
    state, app = await authenticated(request)
    require_chat(app)
    body = await json_body(request, ConversationVariableUpdateRequest)
    end_user = await state.end_user(app, body.user)
    async with state.db.session() as session:
        conversation = await find_conversation(session, app, end_user.id, request.path_params["conversation_id"])
        row = await session.scalar(select(ConversationVariable).where(
            ConversationVariable.app_id == app.id,
            ConversationVariable.conversation_id == conversation.id,
            ConversationVariable.id == request.path_params["variable_id"],
        ))
        if row is None:
            raise VARIABLE_NOT_EXISTS.error()
        _check_type(row.value_type, body.value)
        row.value = await _resolved_files(state, app, row.value_type, body.value)
        row.updated_at = utcnow()
        await session.flush()
        answer = variable_body(row)
    return respond(answer)


ROUTES = [
    Route("/conversations", list_conversations, methods=["GET"]),
    Route("/conversations/{conversation_id}", delete_conversation, methods=["DELETE"]),
    Route("/conversations/{conversation_id}/name", rename_conversation, methods=["POST"]),
    Route("/conversations/{conversation_id}/variables", list_variables, methods=["GET"]),
    Route("/conversations/{conversation_id}/variables/{variable_id}", update_variable, methods=["PUT"]),
]
