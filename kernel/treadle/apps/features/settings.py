"""An app's features as its DSL sets them (``workflow.features``, or the same keys of
``model_config``): read once, with every part of the wrong shape reported by its DSL path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .file_upload import FileUploadLimits
from .moderation import ModerationConfig

__all__ = ["AppFeatures"]


def _enabled(data: Mapping[str, Any], key: str, path: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}.{key}: must be an object, not {type(value).__name__}")
    return bool(value.get("enabled"))


@dataclass(frozen=True)
class AppFeatures:
    """The switches of the Features panel. Opening statement and suggested questions are passed on
    as they are (FEAT-OPENER); the rest say which feature services the app uses."""

    opening_statement: str = ""
    suggested_questions: tuple[str, ...] = ()
    follow_up: bool = False
    moderation: ModerationConfig | None = None
    #: None when the DSL sets no ``file_upload``: files are then not limited here (the Start node's
    #: file fields still check their own).
    file_upload: FileUploadLimits | None = None
    speech_to_text: bool = False
    text_to_speech: Mapping[str, Any] = field(default_factory=dict)
    retriever_resource: bool = False
    more_like_this: bool = False
    annotation_reply: bool = False

    @classmethod
    def parse(cls, data: Mapping[str, Any], path: str = "workflow.features") -> AppFeatures:
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: must be an object, not {type(data).__name__}")
        opening = data.get("opening_statement") or ""
        if not isinstance(opening, str):
            raise ValueError(f"{path}.opening_statement: must be text, not {type(opening).__name__}")
        questions = data.get("suggested_questions") or []
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise ValueError(f"{path}.suggested_questions: must be a list of texts")
        speech = data.get("text_to_speech") or {}
        if not isinstance(speech, Mapping):
            raise ValueError(f"{path}.text_to_speech: must be an object, not {type(speech).__name__}")
        return cls(
            opening_statement=opening,
            suggested_questions=tuple(questions),
            follow_up=_enabled(data, "suggested_questions_after_answer", path),
            moderation=ModerationConfig.parse(data.get("sensitive_word_avoidance"), f"{path}.sensitive_word_avoidance"),
            file_upload=None
            if data.get("file_upload") is None
            else FileUploadLimits.parse(data.get("file_upload"), f"{path}.file_upload"),
            speech_to_text=_enabled(data, "speech_to_text", path),
            text_to_speech=dict(speech),
            retriever_resource=_enabled(data, "retriever_resource", path),
            more_like_this=_enabled(data, "more_like_this", path),
            annotation_reply=_enabled(data, "annotation_reply", path),
        )

    def parameters(self) -> dict[str, Any]:
        """The feature part of the Service API's ``GET /parameters`` answer (API-APP-PARAMS)."""
        upload = self.file_upload or FileUploadLimits()
        speech = self.text_to_speech
        return {
            "opening_statement": self.opening_statement,
            "suggested_questions": list(self.suggested_questions),
            "suggested_questions_after_answer": {"enabled": self.follow_up},
            "speech_to_text": {"enabled": self.speech_to_text},
            "text_to_speech": {
                "enabled": bool(speech.get("enabled")),
                "voice": speech.get("voice") or "",
                "language": speech.get("language") or "",
                "autoPlay": speech.get("autoPlay") or "disabled",
            },
            "retriever_resource": {"enabled": self.retriever_resource},
            "annotation_reply": {"enabled": self.annotation_reply},
            "more_like_this": {"enabled": self.more_like_this},
            "sensitive_word_avoidance": {"enabled": self.moderation is not None},
            "file_upload": {
                "enabled": upload.enabled,
                "allowed_file_types": list(upload.file_types),
                "allowed_file_extensions": list(upload.extensions),
                "allowed_file_upload_methods": list(upload.methods),
                "number_limits": upload.number_limits,
                "image": {
                    "enabled": upload.enabled and "image" in upload.file_types,
                    "number_limits": upload.number_limits,
                    "detail": upload.image_detail,
                    "transfer_methods": list(upload.methods),
                },
            },
        }
