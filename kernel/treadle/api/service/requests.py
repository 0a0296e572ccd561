"""Request bodies and query strings of the Service API (``/v1``), validated as Dify validates them.

:func:`parse` checks a decoded JSON body (or a query-string mapping) against one of these models and,
when it does not fit, raises the ``invalid_param`` error naming the first field at fault and where it
was expected (API-COMMON-USER: a missing ``user`` is "Arg user must be provided.").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ApiError
from .errors import INVALID_PARAM

__all__ = [
    "AnnotationListQuery",
    "AnnotationReplySettingsRequest",
    "AnnotationRequest",
    "AudioToTextForm",
    "ChatMessageRequest",
    "CompletionMessageRequest",
    "ConversationDeleteRequest",
    "ConversationListQuery",
    "ConversationRenameRequest",
    "ConversationVariableUpdateRequest",
    "ConversationVariablesQuery",
    "FeedbackListQuery",
    "FeedbackRequest",
    "FileUploadForm",
    "InputFile",
    "MessageListQuery",
    "OptionalUserQuery",
    "StopRequest",
    "TextToAudioRequest",
    "UserQuery",
    "WorkflowLogsQuery",
    "WorkflowRunRequest",
    "parse",
]

Where = Literal["body", "query", "form"]
_WHERE = {"body": "in the JSON body", "query": "in the query string", "form": "in the form data"}

USER_MISSING = "Arg user must be provided."
#: The highest page number a page-style list takes (Dify's bound on workflow logs, kept for all).
MAX_PAGE = 99999

M = TypeVar("M", bound=BaseModel)


def _uuid(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return value
    try:
        uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{field} is not a valid UUID: {value!r}") from None
    return value


class _Model(BaseModel):
    # Dify's parsers ignore fields they do not know; clients (dify-client) send a few extra ones.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class _WithUser(_Model):
    #: The developer's end-user id (API-COMMON-USER): it scopes conversations, messages, files and runs.
    user: str = Field(min_length=1)


class InputFile(_Model):
    """A file in ``files`` (or a file input): a remote URL or an id from ``POST /files/upload``."""

    type: Literal["document", "image", "audio", "video", "custom"]
    transfer_method: Literal["remote_url", "local_file"]
    url: str | None = None
    upload_file_id: str | None = None

    @model_validator(mode="after")
    def _source_matches_method(self) -> InputFile:
        if self.transfer_method == "remote_url" and not self.url:
            raise ValueError("a remote_url file needs a url")
        if self.transfer_method == "local_file" and not self.upload_file_id:
            raise ValueError("a local_file file needs an upload_file_id")
        return self


class _Generation(_WithUser):
    inputs: dict[str, Any]
    #: Omitted: blocking (API-COMMON-MODE).
    response_mode: Literal["blocking", "streaming"] | None = None
    files: list[InputFile] | None = None

    @property
    def streaming(self) -> bool:
        """Whether the answer is an SSE stream."""
        return self.response_mode == "streaming"


class ChatMessageRequest(_Generation):
    """``POST /chat-messages`` (API-CHAT-SEND)."""

    query: str
    #: Empty or omitted: a new conversation.
    conversation_id: str | None = None
    auto_generate_name: bool = True
    #: Chatflows only: run this published version.
    workflow_id: str | None = None
    retriever_from: str = "dev"

    @field_validator("conversation_id")
    @classmethod
    def _conversation_uuid(cls, value: str | None) -> str | None:
        return _uuid(value, "conversation_id")


class CompletionMessageRequest(_Generation):
    """``POST /completion-messages`` (API-COMPL-SEND); ``query`` is a legacy field."""

    query: str = ""
    retriever_from: str = "dev"


class WorkflowRunRequest(_Generation):
    """``POST /workflows/run`` and ``POST /workflows/{workflow_id}/run`` (API-WF-RUN, API-WF-RUN-ID)."""


class StopRequest(_WithUser):
    """``POST /chat-messages/{task_id}/stop``, ``/completion-messages/{task_id}/stop``,
    ``/workflows/tasks/{task_id}/stop``: only the user who started the task may stop it."""


class UserQuery(_WithUser):
    """A query string whose ``user`` is required (``GET /messages/{id}/suggested``)."""


class OptionalUserQuery(_Model):
    """A query string with an optional ``user`` (``/parameters``, ``/info``, ``/meta``, ``/site``, previews)."""

    user: str | None = None


class ConversationListQuery(_Model):
    """``GET /conversations`` (API-CONV-LIST)."""

    user: str | None = None
    last_id: str | None = None
    limit: int = Field(default=20, ge=1, le=100)
    sort_by: Literal["created_at", "-created_at", "updated_at", "-updated_at"] = "-updated_at"

    @field_validator("last_id")
    @classmethod
    def _last_uuid(cls, value: str | None) -> str | None:
        return _uuid(value, "last_id")


class ConversationDeleteRequest(_Model):
    """``DELETE /conversations/{id}`` (API-CONV-DEL); ``user`` is optional, as in Dify (none: the
    anonymous user)."""

    user: str | None = None


class ConversationRenameRequest(_WithUser):
    """``POST /conversations/{id}/name`` (API-CONV-RENAME): a name, or ``auto_generate``."""

    name: str | None = None
    auto_generate: bool = False

    @model_validator(mode="after")
    def _name_unless_generated(self) -> ConversationRenameRequest:
        if not self.auto_generate and not (self.name and self.name.strip()):
            raise ValueError("name is required when auto_generate is false")
        return self


class ConversationVariablesQuery(_Model):
    """``GET /conversations/{id}/variables`` (API-CONV-VARS)."""

    user: str | None = None
    last_id: str | None = None
    limit: int = Field(default=20, ge=1, le=100)
    variable_name: str | None = Field(default=None, min_length=1, max_length=255)


class ConversationVariableUpdateRequest(_Model):
    """``PUT /conversations/{id}/variables/{variable_id}`` (API-CONV-VAR-UPD): the type is checked later,
    against the variable's ``value_type``; ``user`` is optional, as in Dify."""

    user: str | None = None
    value: Any

    @model_validator(mode="before")
    @classmethod
    def _value_present(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "value" not in data:
            raise ValueError("value is required")
        return data


class MessageListQuery(_Model):
    """``GET /messages`` (API-MSG-LIST)."""

    conversation_id: str
    user: str | None = None
    first_id: str | None = None
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("conversation_id", "first_id")
    @classmethod
    def _uuids(cls, value: str | None, info: Any) -> str | None:
        return _uuid(value, info.field_name)


class FeedbackRequest(_WithUser):
    """``POST /messages/{message_id}/feedbacks`` (API-FB-SUBMIT): ``rating`` null revokes."""

    rating: Literal["like", "dislike"] | None = None
    content: str | None = None


class FeedbackListQuery(_Model):
    """``GET /app/feedbacks`` (API-FB-LIST); Dify documents a limit up to 101."""

    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    limit: int = Field(default=20, ge=1, le=101)


class FileUploadForm(_Model):
    """The form fields of ``POST /files/upload`` beside the file (API-FILE-UPLOAD)."""

    user: str | None = None


class AudioToTextForm(_Model):
    """The form fields of ``POST /audio-to-text`` beside the file (API-AUDIO-STT)."""

    user: str | None = None


class TextToAudioRequest(_Model):
    """``POST /text-to-audio`` (API-AUDIO-TTS): ``message_id`` wins over ``text``."""

    message_id: str | None = None
    text: str | None = None
    user: str | None = None
    voice: str | None = None
    streaming: bool | None = None

    @model_validator(mode="after")
    def _something_to_say(self) -> TextToAudioRequest:
        if not self.message_id and not self.text:
            raise ValueError("message_id or text is required")
        return self


class WorkflowLogsQuery(_Model):
    """``GET /workflows/logs`` (API-WF-LOGS)."""

    keyword: str | None = None
    status: Literal["succeeded", "failed", "stopped"] | None = None
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    limit: int = Field(default=20, ge=1, le=100)
    created_at__before: datetime | None = None
    created_at__after: datetime | None = None
    created_by_end_user_session_id: str | None = None
    created_by_account: str | None = None


class AnnotationRequest(_Model):
    """``POST /apps/annotations`` and ``PUT /apps/annotations/{id}`` (API-ANN-CREATE, API-ANN-UPDATE)."""

    question: str
    answer: str


class AnnotationListQuery(_Model):
    """``GET /apps/annotations`` (API-ANN-LIST)."""

    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    limit: int = Field(default=20, ge=1, le=100)
    keyword: str = ""


class AnnotationReplySettingsRequest(_Model):
    """``POST /apps/annotation-reply/{enable|disable}`` (API-ANN-REPLY-CFG)."""

    embedding_provider_name: str
    embedding_model_name: str
    score_threshold: float = Field(ge=0, le=1)


def parse(model: type[M], data: Any, *, where: Where = "body") -> M:
    """``data`` as a ``model``, or the ``invalid_param`` error (400) saying which field is wrong, how, and
    where it was expected; the field's name is also in the envelope's ``params``."""
    if not isinstance(data, Mapping):
        raise INVALID_PARAM.error(f"The request {'body' if where == 'body' else where} must be a JSON object, "
                                  f"not {type(data).__name__}.")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise _invalid(exc, data, where) from None


def _invalid(exc: ValidationError, data: Mapping[str, Any], where: Where) -> ApiError:
    first = exc.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"]]
    field = location[0] if location else ""
    path = ".".join(location)
    if field == "user" and not data.get("user"):
        return INVALID_PARAM.error(USER_MISSING, params="user")
    if first["type"] == "missing":
        message = f"{path} is required ({_WHERE[where]})."
    else:
        reason = str(first["msg"]).removeprefix("Value error, ")
        message = f"{path}: {reason} ({_WHERE[where]})." if path else f"{reason} ({_WHERE[where]})."
    return INVALID_PARAM.error(message, params=field or None)
