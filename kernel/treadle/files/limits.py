"""Upload limits (SH-ENV-UPLOAD): sizes per kind of file, batch sizes, blocked extensions.

The defaults and the environment variable names are Dify's, and so are the extension lists that
decide which size limit applies: an extension not in them (``.bmp``, ``.zip``) has the general limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

__all__ = [
    "AUDIO_EXTENSIONS",
    "DATASET_EXTENSIONS",
    "DOCUMENT_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "UploadLimits",
]

MB = 1024 * 1024

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".svg"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mpeg", ".webm"})
AUDIO_EXTENSIONS = frozenset({".mp3", ".m4a", ".wav", ".amr", ".mpga"})
#: What knowledge bases index (Dify's ETL); uploads for datasets must be one of these.
DOCUMENT_EXTENSIONS = frozenset(
    {
        ".txt", ".markdown", ".md", ".mdx", ".pdf", ".html", ".htm", ".xlsx", ".xls", ".vtt",
        ".properties", ".doc", ".docx", ".csv", ".eml", ".msg", ".pptx", ".xml", ".epub",
    }
)  # fmt: skip
#: What a knowledge base accepts as a document upload: Dify's document types, and the structured-data
#: files the extractor also reads (issue 6 asks for JSON).
DATASET_EXTENSIONS = DOCUMENT_EXTENSIONS | {".json", ".yaml", ".yml"}

#: Field -> Dify's environment variable.
_ENV_NAMES = {
    "file_size_mb": "UPLOAD_FILE_SIZE_LIMIT",
    "image_file_size_mb": "UPLOAD_IMAGE_FILE_SIZE_LIMIT",
    "video_file_size_mb": "UPLOAD_VIDEO_FILE_SIZE_LIMIT",
    "audio_file_size_mb": "UPLOAD_AUDIO_FILE_SIZE_LIMIT",
    "file_batch_limit": "UPLOAD_FILE_BATCH_LIMIT",
    "image_batch_limit": "IMAGE_FILE_BATCH_LIMIT",
    "workflow_file_upload_limit": "WORKFLOW_FILE_UPLOAD_LIMIT",
}


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may be. Sizes are in megabytes (MiB), as Dify's settings are."""

    file_size_mb: int = 15
    image_file_size_mb: int = 10
    video_file_size_mb: int = 100
    audio_file_size_mb: int = 50
    file_batch_limit: int = 5
    image_batch_limit: int = 10
    workflow_file_upload_limit: int = 10
    #: Extensions refused outright (``UPLOAD_FILE_EXTENSION_BLACKLIST``), lower case with the dot.
    blocked_extensions: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int) and value < 1:
                raise ValueError(f"upload limit {f.name} must be at least 1, not {value}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> UploadLimits:
        """The limits Dify's environment variables set (``UPLOAD_FILE_SIZE_LIMIT=15`` ...); unset
        ones keep their defaults. A value that is not a whole number fails naming the variable."""
        values: dict[str, object] = {}
        for name, variable in _ENV_NAMES.items():
            raw = environ.get(variable, "").strip()
            if raw:
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ValueError(f"{variable} must be a whole number of megabytes or files, not {raw!r}") from None
        blocked = environ.get("UPLOAD_FILE_EXTENSION_BLACKLIST", "")
        values["blocked_extensions"] = frozenset(
            f".{item.strip().lower().lstrip('.')}" for item in blocked.split(",") if item.strip()
        )
        return cls(**values)  # type: ignore[arg-type]

    def size_limit(self, extension: str) -> int:
        """The largest upload, in bytes, for a file with ``extension`` (``".png"``)."""
        extension = extension.lower()
        if extension in IMAGE_EXTENSIONS:
            return self.image_file_size_mb * MB
        if extension in VIDEO_EXTENSIONS:
            return self.video_file_size_mb * MB
        if extension in AUDIO_EXTENSIONS:
            return self.audio_file_size_mb * MB
        return self.file_size_mb * MB

    def system_parameters(self) -> dict[str, int]:
        """The ``system_parameters`` object of ``GET /parameters`` (API-APP-PARAMS)."""
        return {
            "file_size_limit": self.file_size_mb,
            "image_file_size_limit": self.image_file_size_mb,
            "audio_file_size_limit": self.audio_file_size_mb,
            "video_file_size_limit": self.video_file_size_mb,
            "workflow_file_upload_limit": self.workflow_file_upload_limit,
        }
