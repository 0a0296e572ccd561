"""App features (the builder's Features panel) as services: moderation, follow-up questions,
conversation names, file upload limits, and the opening statement passed on as configured."""

from .file_upload import FileUploadError, FileUploadLimits
from .follow_up import SuggestedQuestions, parse_questions
from .moderation import (
    ApiExtensionCall,
    ModeratedChunk,
    Moderation,
    ModerationConfig,
    ModerationError,
    ModerationResult,
)
from .naming import ConversationNamer, fallback_name
from .settings import AppFeatures

__all__ = [
    "ApiExtensionCall",
    "AppFeatures",
    "ConversationNamer",
    "FileUploadError",
    "FileUploadLimits",
    "ModeratedChunk",
    "Moderation",
    "ModerationConfig",
    "ModerationError",
    "ModerationResult",
    "SuggestedQuestions",
    "fallback_name",
    "parse_questions",
]
