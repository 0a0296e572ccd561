"""The Service API's documented errors (API-ERR-*): each code with its HTTP status and Dify's message.

Every one answers as the one envelope ``{"code", "message", "status"}`` through
:class:`~treadle.api.errors.ApiError`; ``invalid_param`` also names the field in ``params``, as Dify does.
A run that fails leaves an error type (Dify's invoke error names); :func:`error_for_run_failure` turns
it into the code a Dify client expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ApiError

__all__ = [
    "APP_UNAVAILABLE",
    "AUDIO_TOO_LARGE",
    "BAD_REQUEST",
    "COMPLETION_REQUEST_ERROR",
    "CONVERSATION_COMPLETED",
    "CONVERSATION_NOT_EXISTS",
    "END_USER_NOT_FOUND",
    "FILENAME_NOT_EXISTS",
    "FILE_ACCESS_DENIED",
    "FILE_NOT_FOUND",
    "FILE_TOO_LARGE",
    "FORBIDDEN",
    "INTERNAL_SERVER_ERROR",
    "INVALID_PARAM",
    "MESSAGE_NOT_EXISTS",
    "MODEL_CURRENTLY_NOT_SUPPORT",
    "NOT_CHAT_APP",
    "NOT_COMPLETION_APP",
    "NOT_FOUND",
    "NOT_WORKFLOW_APP",
    "NO_AUDIO_UPLOADED",
    "NO_FILE_UPLOADED",
    "PROVIDER_NOT_INITIALIZE",
    "PROVIDER_NOT_SUPPORT_SPEECH_TO_TEXT",
    "PROVIDER_QUOTA_EXCEEDED",
    "RATE_LIMIT_ERROR",
    "TOO_MANY_FILES",
    "TOO_MANY_REQUESTS",
    "UNSUPPORTED_AUDIO_TYPE",
    "UNSUPPORTED_FILE_TYPE",
    "ServiceError",
    "error_for_run_failure",
]


@dataclass(frozen=True, slots=True)
class ServiceError:
    """One documented error: HTTP status, code, and the message Dify sends when there is no better one."""

    status: int
    code: str
    message: str

    def body(self, message: str | None = None, **extra: Any) -> dict[str, Any]:
        """The error envelope, with ``message`` instead of the default one when given."""
        return {"code": self.code, "message": self.message if message is None else message, "status": self.status,
                **extra}

    def error(self, message: str | None = None, **extra: Any) -> ApiError:
        """The exception an endpoint raises to answer with this error."""
        return ApiError(self.status, self.code, self.message if message is None else message, **extra)


_ROUTE = "Please check if your app mode matches the right API route."

APP_UNAVAILABLE = ServiceError(400, "app_unavailable", "App unavailable, please check your app configurations.")
NOT_CHAT_APP = ServiceError(400, "not_chat_app", _ROUTE)
NOT_COMPLETION_APP = ServiceError(400, "not_completion_app", "Please check if your Completion app mode matches the "
                                                               "right API route.")
NOT_WORKFLOW_APP = ServiceError(400, "not_workflow_app", _ROUTE)
CONVERSATION_COMPLETED = ServiceError(400, "conversation_completed",
                                      "The conversation has ended. Please start a new conversation.")
PROVIDER_NOT_INITIALIZE = ServiceError(
    400, "provider_not_initialize",
    "No valid model provider credentials found. Please go to Settings -> Model Provider to complete your "
    "provider credentials.",
)
PROVIDER_QUOTA_EXCEEDED = ServiceError(
    400, "provider_quota_exceeded",
    "Your quota for the model provider has been exhausted. Please go to Settings -> Model Provider to complete "
    "your own provider credentials.",
)
MODEL_CURRENTLY_NOT_SUPPORT = ServiceError(400, "model_currently_not_support",
                                           "The current model is not available.")
COMPLETION_REQUEST_ERROR = ServiceError(400, "completion_request_error", "Completion request failed.")
BAD_REQUEST = ServiceError(400, "bad_request", "The request is not valid.")
INVALID_PARAM = ServiceError(400, "invalid_param", "A parameter is not valid.")
NO_FILE_UPLOADED = ServiceError(400, "no_file_uploaded", "Please upload your file.")
TOO_MANY_FILES = ServiceError(400, "too_many_files", "Only one file is allowed.")
FILENAME_NOT_EXISTS = ServiceError(400, "filename_not_exists_error", "The specified filename does not exist.")
NO_AUDIO_UPLOADED = ServiceError(400, "no_audio_uploaded", "Please upload your audio.")
PROVIDER_NOT_SUPPORT_SPEECH_TO_TEXT = ServiceError(400, "provider_not_support_speech_to_text",
                                                   "Provider not support speech to text.")
FORBIDDEN = ServiceError(403, "forbidden", "You do not have access to this resource.")
FILE_ACCESS_DENIED = ServiceError(403, "file_access_denied", "You do not have permission to access this file.")
NOT_FOUND = ServiceError(404, "not_found", "The requested resource was not found.")
CONVERSATION_NOT_EXISTS = ServiceError(404, "not_found", "Conversation Not Exists.")
MESSAGE_NOT_EXISTS = ServiceError(404, "not_found", "Message Not Exists.")
FILE_NOT_FOUND = ServiceError(404, "file_not_found", "The requested file was not found.")
END_USER_NOT_FOUND = ServiceError(404, "end_user_not_found", "End user not found.")
FILE_TOO_LARGE = ServiceError(413, "file_too_large", "File size exceeded.")
AUDIO_TOO_LARGE = ServiceError(413, "audio_too_large", "Audio size exceeded.")
UNSUPPORTED_FILE_TYPE = ServiceError(415, "unsupported_file_type", "File type not allowed.")
UNSUPPORTED_AUDIO_TYPE = ServiceError(415, "unsupported_audio_type", "Audio type not allowed.")
TOO_MANY_REQUESTS = ServiceError(429, "too_many_requests", "Too many requests. Please try again later.")
RATE_LIMIT_ERROR = ServiceError(429, "rate_limit_error", "Rate Limit Error")
INTERNAL_SERVER_ERROR = ServiceError(500, "internal_server_error", "Internal Server Error.")

#: Error types a failed run carries (the model manager's invoke error names), by the code they answer with.
_BY_ERROR_TYPE = {
    "InvokeRateLimitError": RATE_LIMIT_ERROR,
    "QuotaExceededError": PROVIDER_QUOTA_EXCEEDED,
    "InvokeQuotaExceededError": PROVIDER_QUOTA_EXCEEDED,
    "InvokeAuthorizationError": PROVIDER_NOT_INITIALIZE,
    "CredentialsValidateFailedError": PROVIDER_NOT_INITIALIZE,
    "CredentialNotFound": PROVIDER_NOT_INITIALIZE,
    "ModelCurrentlyNotSupportError": MODEL_CURRENTLY_NOT_SUPPORT,
    "InvokeBadRequestError": COMPLETION_REQUEST_ERROR,
    "InvokeConnectionError": COMPLETION_REQUEST_ERROR,
    "InvokeServerUnavailableError": COMPLETION_REQUEST_ERROR,
    "InvokeError": COMPLETION_REQUEST_ERROR,
}


def error_for_run_failure(error_type: str, message: str) -> dict[str, Any]:
    """The error envelope for a run that failed with ``error_type``: a model error keeps its own code
    and message; any other failure is Dify's ``invalid_param`` "Run failed: ..." (what its task
    pipelines send for a failed workflow)."""
    known = _BY_ERROR_TYPE.get(error_type)
    if known is not None:
        return known.body(message or None)
    return INVALID_PARAM.body(f"Run failed: {message}" if message else "Run failed.")
