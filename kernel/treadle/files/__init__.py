"""Files: uploads checked against Dify's limits and stored through the storage backend plugin, file
values for runs (``transfer_method: local_file``), signed preview and download URLs, and the reads
that let nodes get a stored file's bytes (the ``read_file`` kernel method)."""

from __future__ import annotations

from .errors import (
    FileAccessDenied,
    FilenameMissing,
    FileServiceError,
    FileTooLarge,
    NoFileUploaded,
    NoSuchFile,
    TooManyFiles,
    UnsupportedFileType,
)
from .limits import AUDIO_EXTENSIONS, DOCUMENT_EXTENSIONS, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, UploadLimits
from .records import FileRecord, FileRecordStore, MemoryFileRecordStore
from .service import FILE_TYPES, FileService
from .signing import FILE_PREVIEW, IMAGE_PREVIEW, FileSigner
from .storage import ExtensionInvoker, PluginStorage

__all__ = [
    "AUDIO_EXTENSIONS",
    "DOCUMENT_EXTENSIONS",
    "FILE_PREVIEW",
    "FILE_TYPES",
    "IMAGE_EXTENSIONS",
    "IMAGE_PREVIEW",
    "VIDEO_EXTENSIONS",
    "ExtensionInvoker",
    "FileAccessDenied",
    "FileRecord",
    "FileRecordStore",
    "FileService",
    "FileServiceError",
    "FileSigner",
    "FileTooLarge",
    "FilenameMissing",
    "MemoryFileRecordStore",
    "NoFileUploaded",
    "NoSuchFile",
    "PluginStorage",
    "TooManyFiles",
    "UnsupportedFileType",
    "UploadLimits",
]
