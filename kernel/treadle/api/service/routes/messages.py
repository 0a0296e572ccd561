"""Messages of a conversation, their feedback and follow-up suggestions (API-MSG-LIST, API-FB-SUBMIT,
API-FB-LIST, API-CHAT-SUGGEST).

A message is found by the key's app and the end user who sent it: another user's message answers
exactly as a missing one ("Message Not Exists.").
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....apps.features import SuggestedQuestions
from ....store import (
    Message,
    MessageFeedback,
    NotFound,
    SqlConversationHistory,
    messages_page,
    paginate,
    utcnow,
)
from .. import errors
from ..requests import FeedbackListQuery, FeedbackRequest, MessageListQuery, UserQuery
from ..state import ServiceApp, ServiceState
from .common import authenticated, json_body, query_params, require_chat, respond
from .conversations import find_conversation, fresh_files, timestamp

__all__ = ["ROUTES"]

log = logging.getLogger(__name__)

SUGGESTIONS_DISABLED = "Suggested Questions Is Disabled."
#: How many of the conversation's last turns the follow-up questions are written from (as in Dify).
_SUGGESTION_TURNS = 3
#: Message file ids: stable per message and position, as the files are kept on the message row.
_FILE_IDS = uuid.UUID("6f1c9a52-8d0e-4b7a-9a51-2f4f3c1d7e60")


def _seconds(value: Any) -> int | None:
    """A stored time (Unix seconds, a datetime or an ISO text) as Unix seconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp())
        except ValueError:
            return None
    return None


def _message_file(state: ServiceState, message_id: str, index: int, file: Mapping[str, Any]) -> dict[str, Any]:
    fresh = fresh_files(state, file)
    local = fresh.get("transfer_method") == "local_file"
    return {
        "id": str(uuid.uuid5(_FILE_IDS, f"{message_id}/{index}")),
        "filename": fresh.get("filename") or "",
        "type": fresh.get("type") or "custom",
        "url": fresh.get("url") or fresh.get("remote_url"),
        "mime_type": fresh.get("mime_type"),
        "size": fresh.get("size"),
        "transfer_method": fresh.get("transfer_method") or "remote_url",
        "belongs_to": fresh.get("belongs_to") or "user",
        "upload_file_id": (fresh.get("related_id") or fresh.get("id")) if local else None,
    }


def _thought(thought: Mapping[str, Any], message_id: str) -> dict[str, Any]:
    return {
        "id": thought.get("id"),
        "chain_id": thought.get("chain_id"),
        "message_id": thought.get("message_id") or message_id,
        "position": thought.get("position"),
        "thought": thought.get("thought") or "",
        "tool": thought.get("tool") or "",
        "tool_labels": thought.get("tool_labels") or {},
        "tool_input": thought.get("tool_input") or "",
        "observation": thought.get("observation") or "",
        "files": list(thought.get("files") or []),
        "created_at": _seconds(thought.get("created_at")),
    }


def _resource(resource: Mapping[str, Any], message_id: str) -> dict[str, Any]:
    body = dict(resource)
    body.setdefault("message_id", message_id)
    if "created_at" in body:
        body["created_at"] = _seconds(body["created_at"])
    return body


def message_body(state: ServiceState, message: Message, rating: str | None) -> dict[str, Any]:
    """A message as ``GET /messages`` shows it."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "parent_message_id": message.parent_message_id,
        "inputs": fresh_files(state, dict(message.inputs or {})),
        "query": message.query,
        "answer": message.answer,
        "message_files": [
            _message_file(state, message.id, index, file)
            for index, file in enumerate(message.files or [])
            if isinstance(file, Mapping)
        ],
        "feedback": None if rating is None else {"rating": rating},
        "retriever_resources": [
            _resource(r, message.id) for r in message.retriever_resources or [] if isinstance(r, Mapping)
        ],
        "agent_thoughts": [
            _thought(t, message.id) for t in message.agent_thoughts or [] if isinstance(t, Mapping)
        ],
        "created_at": timestamp(message.created_at),
        "status": message.status,
        "error": message.error,
        "extra_contents": [],
    }


async def list_messages(request: Request) -> Response:
    """API-MSG-LIST: the newest ``limit`` messages first; ``first_id`` (the oldest message shown so
    far) pages toward older ones. Each page is in chronological order."""
    state, app = await authenticated(request)
    require_chat(app)
    query = query_params(request, MessageListQuery)
    end_user = await state.end_user(app, query.user)
    async with state.db.session() as session:
        conversation = await find_conversation(session, app, end_user.id, query.conversation_id)
        try:
            page = await messages_page(
                session, conversation_id=conversation.id, first_id=query.first_id or None, limit=query.limit
            )
        except NotFound as exc:
            raise errors.NOT_FOUND.error(exc.message) from None
        ratings = await _user_ratings(session, [m.id for m in page.data])
        data = [message_body(state, m, ratings.get(m.id)) for m in page.data]
    return respond({"limit": page.limit, "has_more": page.has_more, "data": data})


async def _user_ratings(session: Any, message_ids: Sequence[str]) -> dict[str, str]:
    if not message_ids:
        return {}
    rows = await session.execute(
        select(MessageFeedback.message_id, MessageFeedback.rating).where(
            MessageFeedback.message_id.in_(message_ids), MessageFeedback.from_source == "user"
        )
    )
    return {message_id: rating for message_id, rating in rows}


async def _find_message(session: Any, app: ServiceApp, end_user_id: str, message_id: str) -> Message:
    message: Message | None = await session.scalar(select(Message).where(
        Message.id == message_id, Message.app_id == app.id, Message.end_user_id == end_user_id
    ))
    if message is None:
        raise errors.MESSAGE_NOT_EXISTS.error()
    return message


# -- feedback -------------------------------------------------------------------------------------


async def submit_feedback(request: Request) -> Response:
    """API-FB-SUBMIT: like or dislike a message (again: the rating and content change); a null rating
    takes the user's feedback back."""
    state, app = await authenticated(request)
    body = await json_body(request, FeedbackRequest)
    end_user = await state.end_user(app, body.user)
    message_id = request.path_params["message_id"]
    async with state.db.session() as session:
        message = await _find_message(session, app, end_user.id, message_id)
        existing = await session.scalar(select(MessageFeedback).where(
            MessageFeedback.message_id == message.id, MessageFeedback.from_source == "user"
        ))
        if body.rating is None:
            if existing is None:
                raise errors.BAD_REQUEST.error("rating cannot be None when feedback not exists.", params="rating")
            await session.delete(existing)
        elif existing is not None:
            existing.rating, existing.content, existing.updated_at = body.rating, body.content, utcnow()
        else:
            feedback = MessageFeedback(
                app_id=app.id, conversation_id=message.conversation_id, message_id=message.id, rating=body.rating,
                content=body.content, from_source="user", from_end_user_id=end_user.id,
            )
            try:
                async with session.begin_nested():
                    session.add(feedback)
            except IntegrityError:  # a feedback sent at the same moment won the insert: this one updates it
                winner = await session.scalar(select(MessageFeedback).where(
                    MessageFeedback.message_id == message.id, MessageFeedback.from_source == "user"
                ))
                if winner is None:
                    raise
                winner.rating, winner.content, winner.updated_at = body.rating, body.content, utcnow()
    return respond({"result": "success"})


def _feedback_body(feedback: MessageFeedback) -> dict[str, Any]:
    return {
        "id": feedback.id,
        "app_id": feedback.app_id,
        "conversation_id": feedback.conversation_id,
        "message_id": feedback.message_id,
        "rating": feedback.rating,
        "content": feedback.content,
        "from_source": feedback.from_source,
        "from_end_user_id": feedback.from_end_user_id,
        "from_account_id": feedback.from_account_id,
        "created_at": feedback.created_at.isoformat(),
        "updated_at": feedback.updated_at.isoformat(),
    }


async def list_feedbacks(request: Request) -> Response:
    """API-FB-LIST: every feedback on the app's messages (users' and admins'), newest first; times are
    ISO 8601 here (API-COMMON-TS)."""
    state, app = await authenticated(request)
    query = query_params(request, FeedbackListQuery)
    statement = (
        select(MessageFeedback)
        .where(MessageFeedback.app_id == app.id)
        .order_by(MessageFeedback.created_at.desc(), MessageFeedback.id.desc())
    )
    async with state.db.session() as session:
        page = await paginate(session, statement, page=query.page, limit=query.limit, max_limit=101)
        data = [_feedback_body(row) for row in page.data]
    return respond({"data": data})


# -- suggested questions --------------------------------------------------------------------------


async def suggested_questions(request: Request) -> Response:
    """API-CHAT-SUGGEST: questions the user may ask next, written by the workspace's system model from
    the conversation's last turns; none when there is no such model or it fails."""
    state, app = await authenticated(request)
    require_chat(app)
    query = query_params(request, UserQuery)
    end_user = await state.end_user(app, query.user)
    async with state.db.session() as session:
        message = await _find_message(session, app, end_user.id, request.path_params["message_id"])
        if message.conversation_id is None:
            raise errors.CONVERSATION_NOT_EXISTS.error()
        conversation = await find_conversation(session, app, end_user.id, message.conversation_id)
    if not (await state.load(app)).app.features.follow_up:
        raise errors.BAD_REQUEST.error(SUGGESTIONS_DISABLED)
    turns = await SqlConversationHistory(state.db).history(app.tenant_id, conversation.id, _SUGGESTION_TURNS)
    try:
        with state.supervisor.kernel_client(tenant_id=app.tenant_id) as kernel:
            questions = await SuggestedQuestions(kernel).suggest(turns)
    except Exception:  # a failing system model means no suggestions, not a failed request
        log.warning("suggesting questions after message %s failed", message.id, exc_info=True)
        questions = []
    return respond({"result": "success", "data": questions})


ROUTES = [
    Route("/messages", list_messages, methods=["GET"]),
    Route("/messages/{message_id}/feedbacks", submit_feedback, methods=["POST"]),
    Route("/messages/{message_id}/suggested", suggested_questions, methods=["GET"]),
    Route("/app/feedbacks", list_feedbacks, methods=["GET"]),
]
