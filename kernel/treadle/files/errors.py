"""Errors of the file service, each with the code and HTTP status Dify's API gives it."""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "FileAccessDenied",
    "FileServiceError",
    "FileTooLarge",
    "FilenameMissing",
    "NoFileUploaded",
    "NoSuchFile",
    "TooManyFiles",
    "UnsupportedFileType",
]


class FileServiceError(ValueError):
    """A file request the service refuses. ``code`` and ``status`` are those of Dify's error body
    (``{code, message, status}``); ``details`` holds the facts (sizes, limits, names)."""

    code: ClassVar[str] = "invalid_param"
    status: ClassVar[int] = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error in Dify's envelope."""
        return {"code": self.code, "message": self.message, "status": self.status}


class NoFileUploaded(FileServiceError):
    code = "no_file_uploaded"


class TooManyFiles(FileServiceError):
    code = "too_many_files"


class FilenameMissing(FileServiceError):
    code = "filename_not_exists_error"


class FileTooLarge(FileServiceError):
    code = "file_too_large"
    status = 413


class UnsupportedFileType(FileServiceError):
    code = "unsupported_file_type"
    status = 415


class FileAccessDenied(FileServiceError):
    """A signed URL that does not verify or has expired, or a file of another workspace."""

    code = "file_access_denied"
    status = 403


class NoSuchFile(FileServiceError):
    code = "file_not_found"
    status = 404
