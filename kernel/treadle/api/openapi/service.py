"""The Service API's OpenAPI document (``/v1/openapi.json``): every endpoint of spec section 1.2 (the
spec-only human-input and event-resume endpoints aside; the Knowledge API's rows are in
:mod:`.knowledge`), with Dify's documented response shapes (reference/dify-docs, spec sections 1.2 and 1.3).

The table :data:`OPERATIONS` is the document: add a row when a route is added.
"""

from __future__ import annotations

import json
from functools import cache

from pydantic import BaseModel

from ... import __version__
from ..service.requests import (
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
    MessageListQuery,
    OptionalUserQuery,
    StopRequest,
    TextToAudioRequest,
    UserQuery,
    WorkflowLogsQuery,
    WorkflowRunRequest,
)
from .builder import (
    ANY,
    BOOL,
    INT,
    ISO_TIME,
    JSON,
    NUM,
    OBJECT,
    STR,
    TIMESTAMP,
    UUID,
    Body,
    Operation,
    arr,
    build_document,
    enum,
    nullable,
    obj,
    ref,
)
from .knowledge import KNOWLEDGE_OPERATIONS, KNOWLEDGE_SCHEMAS

__all__ = ["OPERATIONS", "SCHEMAS", "service_document"]

# -- shapes ---------------------------------------------------------------------------------------

_ENABLED = obj({"enabled": BOOL})
_DECIMAL = {"type": "string", "description": "A decimal number as a string."}

_USAGE = obj({
    "prompt_tokens": INT,
    "prompt_unit_price": _DECIMAL,
    "prompt_price_unit": _DECIMAL,
    "prompt_price": _DECIMAL,
    "completion_tokens": INT,
    "completion_unit_price": _DECIMAL,
    "completion_price_unit": _DECIMAL,
    "completion_price": _DECIMAL,
    "total_tokens": INT,
    "total_price": _DECIMAL,
    "currency": STR,
    "latency": NUM,
}, description="Model usage of the run (API-SSE-MSG-END).")

_RETRIEVER_RESOURCE = obj({
    "id": nullable(STR),
    "message_id": nullable(STR),
    "position": INT,
    "dataset_id": STR,
    "dataset_name": STR,
    "document_id": STR,
    "document_name": STR,
    "data_source_type": nullable(STR),
    "segment_id": STR,
    "score": nullable(NUM),
    "hit_count": nullable(INT),
    "word_count": nullable(INT),
    "segment_position": nullable(INT),
    "index_node_hash": nullable(STR),
    "content": STR,
    "summary": nullable(STR),
    "created_at": nullable(TIMESTAMP),
}, optional=("id", "message_id", "data_source_type", "score", "hit_count", "word_count", "segment_position",
             "index_node_hash", "summary", "created_at"),
   description="A knowledge chunk the answer cites.")

_MESSAGE_METADATA = obj({
    "usage": ref("Usage"),
    "retriever_resources": arr(ref("RetrieverResource")),
}, optional=("retriever_resources",))

_RUN_STATUS = enum("running", "succeeded", "failed", "stopped", "partial-succeeded", "paused")

_CHAT_BLOCKING = obj({
    "event": enum("message"),
    "task_id": UUID,
    "id": UUID,
    "message_id": UUID,
    "conversation_id": UUID,
    "mode": enum("chat", "agent-chat", "advanced-chat"),
    "answer": STR,
    "metadata": _MESSAGE_METADATA,
    "created_at": TIMESTAMP,
}, description="A blocking chat answer (API-CHAT-SEND).")

_COMPLETION_BLOCKING = obj({
    "event": enum("message"),
    "task_id": UUID,
    "id": UUID,
    "message_id": UUID,
    "mode": enum("completion"),
    "answer": STR,
    "metadata": _MESSAGE_METADATA,
    "created_at": TIMESTAMP,
}, description="A blocking completion answer (API-COMPL-SEND).")

_RUN_DATA = obj({
    "id": UUID,
    "workflow_id": UUID,
    "status": _RUN_STATUS,
    "outputs": nullable(OBJECT),
    "error": nullable(STR),
    "elapsed_time": NUM,
    "total_tokens": INT,
    "total_steps": INT,
    "created_at": TIMESTAMP,
    "finished_at": nullable(TIMESTAMP),
})

_WORKFLOW_BLOCKING = obj({
    "task_id": UUID,
    "workflow_run_id": UUID,
    "data": _RUN_DATA,
}, description="A blocking workflow run (API-WF-RUN).")

_RUN_DETAIL = obj({
    "id": UUID,
    "workflow_id": UUID,
    "status": _RUN_STATUS,
    "inputs": nullable(OBJECT),
    "outputs": nullable(OBJECT),
    "error": nullable(STR),
    "total_steps": INT,
    "total_tokens": INT,
    "created_at": TIMESTAMP,
    "finished_at": nullable(TIMESTAMP),
    "elapsed_time": nullable(NUM),
}, description="A workflow run (API-WF-RUN-GET).")

_LOG_ITEM = obj({
    "id": UUID,
    "workflow_run": obj({
        "id": UUID,
        "version": STR,
        "status": _RUN_STATUS,
        "error": nullable(STR),
        "elapsed_time": nullable(NUM),
        "total_tokens": nullable(INT),
        "total_steps": nullable(INT),
        "created_at": TIMESTAMP,
        "finished_at": nullable(TIMESTAMP),
        "exceptions_count": nullable(INT),
        "triggered_from": nullable(STR),
    }, optional=("exceptions_count", "triggered_from")),
    "created_from": STR,
    "created_by_role": STR,
    "created_by_account": nullable(obj({"id": UUID, "name": STR, "email": STR})),
    "created_by_end_user": nullable(obj({
        "id": UUID, "type": STR, "is_anonymous": BOOL, "session_id": nullable(STR),
    })),
    "created_at": TIMESTAMP,
    "details": nullable(OBJECT),
}, optional=("details",))


def _page(item: JSON, description: str) -> JSON:
    """Page-style pagination (API-COMMON-PAGE)."""
    return obj({
        "page": INT, "limit": INT, "total": INT, "has_more": BOOL, "data": arr(item),
    }, description=description)


def _cursor(item: JSON, description: str) -> JSON:
    """Cursor-style pagination (API-COMMON-PAGE)."""
    return obj({"limit": INT, "has_more": BOOL, "data": arr(item)}, description=description)


_CONVERSATION = obj({
    "id": UUID,
    "name": STR,
    "inputs": OBJECT,
    "status": STR,
    "introduction": nullable(STR),
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
}, description="A conversation (API-CONV-LIST).")

_MESSAGE_FILE = obj({
    "id": STR,
    "filename": nullable(STR),
    "type": STR,
    "url": nullable(STR),
    "mime_type": nullable(STR),
    "size": nullable(INT),
    "transfer_method": enum("remote_url", "local_file", "tool_file"),
    "belongs_to": nullable(enum("user", "assistant")),
    "upload_file_id": nullable(STR),
}, optional=("filename", "mime_type", "size", "upload_file_id"))

_AGENT_THOUGHT = obj({
    "id": STR,
    "chain_id": nullable(STR),
    "message_id": STR,
    "position": INT,
    "thought": nullable(STR),
    "tool": nullable(STR),
    "tool_labels": nullable(OBJECT),
    "tool_input": nullable(STR),
    "observation": nullable(STR),
    "files": arr(ANY),
    "created_at": nullable(TIMESTAMP),
}, optional=("chain_id", "tool_labels"))

_MESSAGE = obj({
    "id": UUID,
    "conversation_id": UUID,
    "parent_message_id": nullable(STR),
    "inputs": OBJECT,
    "query": STR,
    "answer": STR,
    "status": enum("normal", "error"),
    "error": nullable(STR),
    "message_files": arr(ref("MessageFile")),
    "feedback": nullable(obj({"rating": nullable(enum("like", "dislike"))})),
    "retriever_resources": arr(ref("RetrieverResource")),
    "agent_thoughts": arr(ref("AgentThought")),
    "created_at": TIMESTAMP,
    "extra_contents": arr(OBJECT),
}, optional=("extra_contents",), description="A message of a conversation (API-MSG-LIST).")

_VALUE_TYPES = ("string", "number", "object", "secret", "file", "boolean", "array[any]", "array[string]",
                "array[number]", "array[object]", "array[file]", "array[boolean]")

_VARIABLE = obj({
    "id": STR,
    "name": STR,
    "value_type": enum(*_VALUE_TYPES),
    "value": ANY,
    "description": nullable(STR),
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
}, description="A conversation variable (API-CONV-VARS).")

_FEEDBACK = obj({
    "id": UUID,
    "app_id": UUID,
    "conversation_id": UUID,
    "message_id": UUID,
    "rating": enum("like", "dislike"),
    "content": nullable(STR),
    "from_source": enum("user", "admin"),
    "from_end_user_id": nullable(UUID),
    "from_account_id": nullable(UUID),
    "created_at": ISO_TIME,
    "updated_at": ISO_TIME,
}, description="Feedback on a message (API-FB-LIST).")

_UPLOADED_FILE = obj({
    "id": UUID,
    "name": STR,
    "size": INT,
    "extension": nullable(STR),
    "mime_type": nullable(STR),
    "created_by": nullable(STR),
    "created_at": TIMESTAMP,
    "preview_url": nullable(STR),
    "source_url": nullable(STR),
    "original_url": nullable(STR),
    "user_id": nullable(STR),
    "tenant_id": nullable(STR),
    "conversation_id": nullable(STR),
    "file_key": nullable(STR),
}, description="An uploaded file (API-FILE-UPLOAD).")

_END_USER = obj({
    "id": UUID,
    "tenant_id": UUID,
    "app_id": nullable(UUID),
    "type": STR,
    "external_user_id": nullable(STR),
    "name": nullable(STR),
    "is_anonymous": BOOL,
    "session_id": nullable(STR),
    "created_at": ISO_TIME,
    "updated_at": ISO_TIME,
}, description="An end user (API-ENDUSER-GET).")

_APP_MODES = ("completion", "chat", "agent-chat", "advanced-chat", "workflow")

_INFO = obj({
    "name": STR,
    "description": nullable(STR),
    "tags": arr(STR),
    "mode": enum(*_APP_MODES),
    "author_name": nullable(STR),
}, description="The app's basic information (API-APP-INFO).")

_FORM_CONTROL = obj({"label": STR, "variable": STR, "required": BOOL}, optional=("required",))

_PARAMETERS = obj({
    "opening_statement": nullable(STR),
    "suggested_questions": arr(STR),
    "suggested_questions_after_answer": _ENABLED,
    "speech_to_text": _ENABLED,
    "text_to_speech": obj({
        "enabled": BOOL, "voice": nullable(STR), "language": nullable(STR), "autoPlay": nullable(STR),
    }, optional=("voice", "language", "autoPlay")),
    "retriever_resource": _ENABLED,
    "annotation_reply": _ENABLED,
    "more_like_this": _ENABLED,
    "sensitive_word_avoidance": _ENABLED,
    "user_input_form": arr({
        "type": "object",
        "description": "One control, keyed by its type (`text-input`, `paragraph`, `select`, `number`, `file`, …).",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": _FORM_CONTROL,
    }),
    "file_upload": OBJECT,
    "system_parameters": obj({
        "file_size_limit": INT,
        "image_file_size_limit": INT,
        "audio_file_size_limit": INT,
        "video_file_size_limit": INT,
        "workflow_file_upload_limit": INT,
    }),
}, description="The input form and feature switches (API-APP-PARAMS).")

_META = obj({
    "tool_icons": {
        "type": "object",
        "additionalProperties": {"anyOf": [STR, obj({"background": STR, "content": STR})]},
    },
}, description="Tool icons (API-APP-META).")

_SITE = obj({
    "title": STR,
    "chat_color_theme": nullable(STR),
    "chat_color_theme_inverted": BOOL,
    "icon_type": nullable(enum("emoji", "image")),
    "icon": nullable(STR),
    "icon_background": nullable(STR),
    "icon_url": nullable(STR),
    "description": nullable(STR),
    "copyright": nullable(STR),
    "privacy_policy": nullable(STR),
    "custom_disclaimer": nullable(STR),
    "default_language": STR,
    "show_workflow_steps": BOOL,
    "use_icon_as_answer_icon": BOOL,
}, description="The WebApp settings (API-APP-SITE).")

_ANNOTATION = obj({
    "id": UUID,
    "question": nullable(STR),
    "answer": nullable(STR),
    "hit_count": nullable(INT),
    "created_at": nullable(TIMESTAMP),
}, description="An annotation (API-ANN-CREATE).")

_JOB_STATUS = enum("waiting", "processing", "completed", "error")

_RESULT = obj({"result": enum("success")})

# -- stream events (API-SSE-*) -----------------------------------------------------------------------


def _event(name: str, fields: dict[str, JSON], *, base: dict[str, JSON], optional: tuple[str, ...] = ()) -> JSON:
    return obj({"event": enum(name), **base, **fields}, optional=optional)


_DATA = {"data": OBJECT}


def _events(base: dict[str, JSON], optional_base: tuple[str, ...], names: dict[str, JSON]) -> dict[str, JSON]:
    """Each event's schema: the base fields plus its own."""
    shapes: dict[str, JSON] = {}
    for name, fields in names.items():
        if name == "error":
            # An in-band error after the stream started (API-SSE-ERROR): Dify leaves the base fields out.
            shapes[name] = obj({"event": enum("error"), **base, "status": INT, "code": STR, "message": STR},
                               optional=tuple(base))
        elif name == "ping":
            shapes[name] = obj({"event": enum("ping")})
        else:
            shapes[name] = _event(name, fields, base=base, optional=optional_base)
    return shapes


_MESSAGE_EVENTS: dict[str, JSON] = {
    "message": {"answer": STR},
    "agent_message": {"answer": STR},
    "agent_thought": obj({
        "id": STR, "position": INT, "thought": nullable(STR), "observation": nullable(STR), "tool": nullable(STR),
        "tool_input": nullable(STR), "message_files": arr(ANY),
    })["properties"],
    "message_file": {"id": STR, "type": STR, "belongs_to": enum("user", "assistant"), "url": nullable(STR)},
    "message_end": {"id": STR, "metadata": _MESSAGE_METADATA},
    "message_replace": {"answer": STR, "reason": nullable(STR)},
    "tts_message": {"audio": STR},
    "tts_message_end": {"audio": STR},
    "error": {},
    "ping": {},
}

_NODE_DATA = obj({
    "id": STR, "node_id": STR, "node_type": STR, "title": STR, "index": INT,
    "predecessor_node_id": nullable(STR), "inputs": nullable(OBJECT), "created_at": TIMESTAMP,
    "extras": nullable(OBJECT), "iteration_id": nullable(STR), "loop_id": nullable(STR),
}, optional=("predecessor_node_id", "inputs", "extras", "iteration_id", "loop_id"))

_NODE_FINISHED_DATA = obj({
    "id": STR, "node_id": STR, "node_type": STR, "title": STR, "index": INT,
    "predecessor_node_id": nullable(STR), "inputs": nullable(OBJECT), "process_data": nullable(OBJECT),
    "outputs": nullable(OBJECT),
    "status": enum("running", "succeeded", "failed", "stopped", "exception", "retry", "paused"),
    "error": nullable(STR), "elapsed_time": NUM, "execution_metadata": nullable(OBJECT),
    "created_at": TIMESTAMP, "finished_at": nullable(TIMESTAMP), "files": nullable(arr(ANY)),
    "iteration_id": nullable(STR), "loop_id": nullable(STR),
}, optional=("predecessor_node_id", "inputs", "process_data", "outputs", "error", "execution_metadata",
             "files", "iteration_id", "loop_id"))

_WORKFLOW_EVENTS: dict[str, JSON] = {
    "workflow_started": {"data": obj({"id": STR, "workflow_id": STR, "inputs": nullable(OBJECT),
                                      "created_at": TIMESTAMP}, optional=("inputs",))},
    "workflow_finished": {"data": obj({
        "id": STR, "workflow_id": STR, "status": _RUN_STATUS, "outputs": nullable(OBJECT), "error": nullable(STR),
        "elapsed_time": NUM, "total_tokens": INT, "total_steps": INT, "created_at": TIMESTAMP,
        "finished_at": nullable(TIMESTAMP), "exceptions_count": nullable(INT), "files": nullable(arr(ANY)),
    }, optional=("exceptions_count", "files"))},
    "workflow_paused": _DATA,
    "node_started": {"data": _NODE_DATA},
    "node_finished": {"data": _NODE_FINISHED_DATA},
    "node_retry": {"data": _NODE_FINISHED_DATA},
    "iteration_started": _DATA,
    "iteration_next": _DATA,
    "iteration_completed": _DATA,
    "loop_started": _DATA,
    "loop_next": _DATA,
    "loop_completed": _DATA,
    "text_chunk": {"data": obj({"text": STR, "from_variable_selector": nullable(arr(STR))},
                               optional=("from_variable_selector",))},
    "text_replace": {"data": obj({"text": STR})},
    "human_input_required": _DATA,
    "human_input_form_filled": _DATA,
    "human_input_form_timeout": _DATA,
    "agent_log": _DATA,
    "tts_message": {"audio": STR},
    "tts_message_end": {"audio": STR},
    "error": {},
    "ping": {},
}

_CHATFLOW_ONLY = ("workflow_started", "workflow_finished", "workflow_paused", "node_started", "node_finished",
                  "node_retry", "iteration_started", "iteration_next", "iteration_completed", "loop_started",
                  "loop_next", "loop_completed", "text_chunk", "text_replace", "human_input_required",
                  "human_input_form_filled", "human_input_form_timeout", "agent_log")


def _union(name: str, shapes: dict[str, JSON]) -> JSON:
    """One stream's events: ``event`` names which shape the rest of the payload has."""
    return {
        "type": "object",
        "description": f"One event of a {name} stream (API-SSE-*), chosen by `event`.",
        "required": ["event"],
        "properties": {"event": enum(*shapes)},
        "allOf": [
            {"if": {"properties": {"event": {"const": event}}, "required": ["event"]}, "then": shape}
            for event, shape in shapes.items()
        ],
    }


_CHAT_BASE = {"task_id": STR, "message_id": STR, "conversation_id": STR, "created_at": TIMESTAMP}
_COMPLETION_BASE = {"task_id": STR, "message_id": STR, "created_at": TIMESTAMP}
_WORKFLOW_BASE = {"task_id": STR, "workflow_run_id": STR}

_CHAT_EVENTS = {
    **_events(_CHAT_BASE, ("created_at",), _MESSAGE_EVENTS),
    **_events({**_CHAT_BASE, "workflow_run_id": STR}, ("created_at", "workflow_run_id"),
              {name: _WORKFLOW_EVENTS[name] for name in _CHATFLOW_ONLY}),
}
_COMPLETION_EVENTS = _events(_COMPLETION_BASE, ("created_at",), {
    name: _MESSAGE_EVENTS[name] for name in (
        "message", "message_end", "message_file", "tts_message", "tts_message_end", "message_replace", "error",
        "ping",
    )
})
_WORKFLOW_STREAM = _events(_WORKFLOW_BASE, (), _WORKFLOW_EVENTS)

#: The named response shapes (components/schemas).
SCHEMAS: dict[str, JSON] = {
    "Usage": _USAGE,
    "RetrieverResource": _RETRIEVER_RESOURCE,
    "ChatMessageResponse": _CHAT_BLOCKING,
    "CompletionMessageResponse": _COMPLETION_BLOCKING,
    "WorkflowRunResponse": _WORKFLOW_BLOCKING,
    "ChatStreamEvent": _union("chat", _CHAT_EVENTS),
    "CompletionStreamEvent": _union("completion", _COMPLETION_EVENTS),
    "WorkflowStreamEvent": _union("workflow", _WORKFLOW_STREAM),
    "WorkflowRunDetail": _RUN_DETAIL,
    "WorkflowLogPage": _page(_LOG_ITEM, "Workflow run logs (API-WF-LOGS)."),
    "Conversation": _CONVERSATION,
    "ConversationPage": _cursor(ref("Conversation"), "Conversations, most recently active first (API-CONV-LIST)."),
    "MessageFile": _MESSAGE_FILE,
    "AgentThought": _AGENT_THOUGHT,
    "Message": _MESSAGE,
    "MessagePage": _cursor(ref("Message"), "Messages of a conversation (API-MSG-LIST)."),
    "ConversationVariable": _VARIABLE,
    "ConversationVariablePage": _cursor(ref("ConversationVariable"), "Conversation variables (API-CONV-VARS)."),
    "Feedback": _FEEDBACK,
    "FeedbackList": obj({"data": arr(ref("Feedback"))}, description="The app's feedback (API-FB-LIST)."),
    "UploadedFile": _UPLOADED_FILE,
    "EndUser": _END_USER,
    "AppInfo": _INFO,
    "AppParameters": _PARAMETERS,
    "AppMeta": _META,
    "AppSite": _SITE,
    "Annotation": _ANNOTATION,
    "AnnotationPage": _page(ref("Annotation"), "Annotations (API-ANN-LIST)."),
    "AnnotationReplyJob": obj({"job_id": STR, "job_status": _JOB_STATUS}),
    "AnnotationReplyJobStatus": obj({"job_id": STR, "job_status": _JOB_STATUS, "error_msg": nullable(STR)}),
    "Result": _RESULT,
}

# -- the table --------------------------------------------------------------------------------------

_TASK = {"task_id": {**STR, "description": "The `task_id` of a streaming run."}}
_MESSAGE_ID = {"message_id": {**UUID, "description": "A message id."}}
_CONVERSATION_ID = {"conversation_id": {**UUID, "description": "A conversation id."}}
_ACTION = {"action": enum("enable", "disable")}

_OK_RESULT = Body("Done: `{result: \"success\"}`.", json=ref("Result"))


def _form(model: type[BaseModel], file: str) -> JSON:
    """A multipart body: exactly one ``file`` part plus the model's fields."""
    properties: dict[str, JSON] = {"file": {"type": "string", "format": "binary", "description": file}}
    for name, info in model.model_fields.items():
        properties[name] = {**STR, "description": info.description or name}
    return {"type": "object", "required": ["file"], "properties": properties}


OPERATIONS: tuple[Operation, ...] = (
    # Generation
    Operation("POST", "/completion-messages", "sendCompletionMessage", "Send a completion message", "Completion",
              Body("The answer: JSON when blocking, an event stream when `response_mode` is `streaming`.",
                   json=ref("CompletionMessageResponse"), sse=ref("CompletionStreamEvent")),
              spec=("API-COMPL-SEND", "API-SSE-MESSAGE"), body=CompletionMessageRequest,
              errors=(404, 429, 500)),
    Operation("POST", "/completion-messages/{task_id}/stop", "stopCompletionMessage", "Stop a completion",
              "Completion", _OK_RESULT, spec=("API-COMPL-STOP",), body=StopRequest, path_params=_TASK),
    Operation("POST", "/chat-messages", "sendChatMessage", "Send a chat message", "Chat",
              Body("The answer: JSON when blocking, an event stream when `response_mode` is `streaming`.",
                   json=ref("ChatMessageResponse"), sse=ref("ChatStreamEvent")),
              spec=("API-CHAT-SEND", "API-SSE-MESSAGE"), body=ChatMessageRequest, errors=(404, 429, 500)),
    Operation("POST", "/chat-messages/{task_id}/stop", "stopChatMessage", "Stop a chat answer", "Chat",
              _OK_RESULT, spec=("API-CHAT-STOP",), body=StopRequest, path_params=_TASK),
    Operation("GET", "/messages/{message_id}/suggested", "getSuggestedQuestions", "Next suggested questions",
              "Chat", Body("The suggestions.", json=obj({"result": enum("success"), "data": arr(STR)})),
              spec=("API-CHAT-SUGGEST",), query=UserQuery, path_params=_MESSAGE_ID, errors=(404,)),
    Operation("POST", "/workflows/run", "runWorkflow", "Run the published workflow", "Workflow",
              Body("The run: JSON when blocking, an event stream when `response_mode` is `streaming`.",
                   json=ref("WorkflowRunResponse"), sse=ref("WorkflowStreamEvent")),
              spec=("API-WF-RUN",), body=WorkflowRunRequest, errors=(429, 500)),
    Operation("POST", "/workflows/{workflow_id}/run", "runWorkflowVersion", "Run a published workflow version",
              "Workflow",
              Body("The run: JSON when blocking, an event stream when `response_mode` is `streaming`.",
                   json=ref("WorkflowRunResponse"), sse=ref("WorkflowStreamEvent")),
              spec=("API-WF-RUN-ID",), body=WorkflowRunRequest, path_params={"workflow_id": UUID},
              errors=(404, 429, 500)),
    Operation("POST", "/workflows/tasks/{task_id}/stop", "stopWorkflowTask", "Stop a workflow run", "Workflow",
              _OK_RESULT, spec=("API-WF-STOP",), body=StopRequest, path_params=_TASK),
    Operation("GET", "/workflows/run/{workflow_run_id}", "getWorkflowRun", "A workflow run's detail", "Workflow",
              Body("The run.", json=ref("WorkflowRunDetail")), spec=("API-WF-RUN-GET",),
              path_params={"workflow_run_id": UUID}, errors=(404,)),
    Operation("GET", "/workflows/logs", "listWorkflowLogs", "Workflow run logs", "Workflow",
              Body("A page of logs.", json=ref("WorkflowLogPage")), spec=("API-WF-LOGS",), query=WorkflowLogsQuery),
    # Conversations and messages
    Operation("GET", "/conversations", "listConversations", "The user's conversations", "Conversations",
              Body("A page of conversations.", json=ref("ConversationPage")), spec=("API-CONV-LIST",),
              query=ConversationListQuery, errors=(404,)),
    Operation("GET", "/messages", "listMessages", "A conversation's messages", "Conversations",
              Body("A page of messages.", json=ref("MessagePage")), spec=("API-MSG-LIST",), query=MessageListQuery,
              errors=(404,)),
    Operation("GET", "/conversations/{conversation_id}/variables", "listConversationVariables",
              "A conversation's variables", "Conversations",
              Body("A page of variables.", json=ref("ConversationVariablePage")), spec=("API-CONV-VARS",),
              query=ConversationVariablesQuery, path_params=_CONVERSATION_ID, errors=(404,)),
    Operation("PUT", "/conversations/{conversation_id}/variables/{variable_id}", "updateConversationVariable",
              "Set a conversation variable", "Conversations",
              Body("The variable.", json=ref("ConversationVariable")), spec=("API-CONV-VAR-UPD",),
              body=ConversationVariableUpdateRequest, path_params={**_CONVERSATION_ID, "variable_id": UUID},
              errors=(404,)),
    Operation("POST", "/conversations/{conversation_id}/name", "renameConversation", "Rename a conversation",
              "Conversations", Body("The conversation.", json=ref("Conversation")), spec=("API-CONV-RENAME",),
              body=ConversationRenameRequest, path_params=_CONVERSATION_ID, errors=(404,)),
    Operation("DELETE", "/conversations/{conversation_id}", "deleteConversation", "Delete a conversation",
              "Conversations", Body("Deleted."), spec=("API-CONV-DEL",), status=204,
              body=ConversationDeleteRequest, path_params=_CONVERSATION_ID, errors=(404,)),
    # Feedback
    Operation("POST", "/messages/{message_id}/feedbacks", "submitFeedback", "Rate a message", "Feedback",
              _OK_RESULT, spec=("API-FB-SUBMIT",), body=FeedbackRequest, path_params=_MESSAGE_ID, errors=(404,)),
    Operation("GET", "/app/feedbacks", "listFeedbacks", "The app's feedback", "Feedback",
              Body("The feedback.", json=ref("FeedbackList")), spec=("API-FB-LIST",), query=FeedbackListQuery),
    # Files, audio, end users
    Operation("POST", "/files/upload", "uploadFile", "Upload a file", "Files",
              Body("The stored file.", json=ref("UploadedFile")), spec=("API-FILE-UPLOAD",), status=201,
              form=_form(FileUploadForm, "The file (exactly one)."), errors=(413, 415)),
    Operation("GET", "/files/{file_id}/preview", "previewFile", "Download or preview a file", "Files",
              Body("The file's bytes, with its MIME type.", media=("*/*",)), spec=("API-FILE-PREVIEW",),
              params={"as_attachment": {**BOOL, "description": "Send `Content-Disposition: attachment`."},
                      "user": {**STR, "description": "The end user."}},
              path_params={"file_id": UUID}, errors=(403, 404)),
    Operation("POST", "/audio-to-text", "audioToText", "Speech to text", "Audio",
              Body("The transcript.", json=obj({"text": STR})), spec=("API-AUDIO-STT",),
              form=_form(AudioToTextForm, "The audio (mp3, mp4, mpeg, mpga, m4a, wav, webm; 30 MB at most)."),
              errors=(413, 415, 500)),
    Operation("POST", "/text-to-audio", "textToAudio", "Text to speech", "Audio",
              Body("The audio.", media=("audio/mpeg", "audio/wav", "audio/x-wav", "application/octet-stream")),
              spec=("API-AUDIO-TTS",), body=TextToAudioRequest, errors=(404, 500)),
    Operation("GET", "/end-users/{end_user_id}", "getEndUser", "An end user", "End users",
              Body("The end user.", json=ref("EndUser")), spec=("API-ENDUSER-GET",),
              path_params={"end_user_id": UUID}, errors=(404,)),
    # App metadata
    Operation("GET", "/info", "getAppInfo", "The app's basic information", "Application",
              Body("The app.", json=ref("AppInfo")), spec=("API-APP-INFO",), query=OptionalUserQuery),
    Operation("GET", "/parameters", "getAppParameters", "The app's input form and features", "Application",
              Body("The parameters.", json=ref("AppParameters")), spec=("API-APP-PARAMS",), query=OptionalUserQuery),
    Operation("GET", "/meta", "getAppMeta", "The app's tool icons", "Application",
              Body("The meta.", json=ref("AppMeta")), spec=("API-APP-META",), query=OptionalUserQuery),
    Operation("GET", "/site", "getAppSite", "The app's WebApp settings", "Application",
              Body("The settings.", json=ref("AppSite")), spec=("API-APP-SITE",), query=OptionalUserQuery,
              errors=(403,)),
    # Annotations
    Operation("POST", "/apps/annotations", "createAnnotation", "Create an annotation", "Annotations",
              Body("The annotation.", json=ref("Annotation")), spec=("API-ANN-CREATE",), status=201,
              body=AnnotationRequest),
    Operation("GET", "/apps/annotations", "listAnnotations", "List annotations", "Annotations",
              Body("A page of annotations.", json=ref("AnnotationPage")), spec=("API-ANN-LIST",),
              query=AnnotationListQuery),
    Operation("PUT", "/apps/annotations/{annotation_id}", "updateAnnotation", "Update an annotation",
              "Annotations", Body("The annotation.", json=ref("Annotation")), spec=("API-ANN-UPDATE",),
              body=AnnotationRequest, path_params={"annotation_id": UUID}, errors=(403, 404)),
    Operation("DELETE", "/apps/annotations/{annotation_id}", "deleteAnnotation", "Delete an annotation",
              "Annotations", Body("Deleted."), spec=("API-ANN-DELETE",), status=204,
              path_params={"annotation_id": UUID}, errors=(403, 404)),
    Operation("POST", "/apps/annotation-reply/{action}", "configureAnnotationReply",
              "Turn annotation reply on or off", "Annotations",
              Body("The job that applies it.", json=ref("AnnotationReplyJob")), spec=("API-ANN-REPLY-CFG",),
              body=AnnotationReplySettingsRequest, path_params=_ACTION),
    Operation("GET", "/apps/annotation-reply/{action}/status/{job_id}", "getAnnotationReplyStatus",
              "An annotation-reply job's status", "Annotations",
              Body("The job.", json=ref("AnnotationReplyJobStatus")), spec=("API-ANN-REPLY-STATUS",),
              path_params={**_ACTION, "job_id": STR}, errors=(404,)),
)

_SECURITY = {
    "ApiKeyAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer {API_KEY}`: the app's API key, which also selects the app; on "
                       "the Knowledge API (`/datasets`, `/workspaces/current/models`), the workspace's knowledge "
                       "key (API-COMMON-AUTH).",
    },
}

_DESCRIPTION = (
    "Treadle's Service API, compatible with Dify's: one app per API key, `user` scopes what an end user "
    "sees, errors are `{code, message, status}`, timestamps are Unix seconds unless marked ISO 8601."
)


@cache
def _document() -> str:
    document = build_document(
        title="Treadle Service API", version=__version__, description=_DESCRIPTION, server="/v1",
        operations=(*OPERATIONS, *KNOWLEDGE_OPERATIONS), schemas={**SCHEMAS, **KNOWLEDGE_SCHEMAS},
        security_schemes=_SECURITY,
    )
    return json.dumps(document)


def service_document() -> JSON:
    """The Service API's OpenAPI 3.1 document (a fresh copy each call)."""
    document: JSON = json.loads(_document())
    return document
