"""Building blocks of the Dify-compatible Service API (``/v1``): request models, the documented
errors, the SSE framing, and the translation of engine events into Dify's stream events and blocking
bodies. Nothing here touches storage; the routes put these together."""

from . import errors
from .errors import ServiceError, error_for_run_failure
from .requests import (
    AnnotationListQuery,
    AnnotationReplySettingsRequest,
    AnnotationRequest,
    AudioToTextForm,
    ChatMessageRequest,
    CompletionMessageRequest,
    ConversationDeleteRequest,
    ConversationListQuery,
    ConversationRenameRequest,
    ConversationVariablesQuery,
    ConversationVariableUpdateRequest,
    FeedbackListQuery,
    FeedbackRequest,
    FileUploadForm,
    InputFile,
    MessageListQuery,
    OptionalUserQuery,
    StopRequest,
    TextToAudioRequest,
    UserQuery,
    WorkflowLogsQuery,
    WorkflowRunRequest,
    parse,
)
from .sse import PING, PING_INTERVAL, encode_event, sse_stream
from .translator import APP_MODES, EventTranslator, StreamContext
from .usage import UsageTotal, empty_usage

__all__ = [
    "APP_MODES",
    "PING",
    "PING_INTERVAL",
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
    "EventTranslator",
    "FeedbackListQuery",
    "FeedbackRequest",
    "FileUploadForm",
    "InputFile",
    "MessageListQuery",
    "OptionalUserQuery",
    "ServiceError",
    "StopRequest",
    "StreamContext",
    "TextToAudioRequest",
    "UsageTotal",
    "UserQuery",
    "WorkflowLogsQuery",
    "WorkflowRunRequest",
    "empty_usage",
    "encode_event",
    "error_for_run_failure",
    "errors",
    "parse",
    "sse_stream",
]
