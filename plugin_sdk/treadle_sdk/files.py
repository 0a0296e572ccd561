"""File values that nodes and tools make (VAR-FILE-OBJECT), in Dify's JSON shape: ``{"dify_model_identity":
"__dify__file__", "type": "document", "transfer_method": "tool_file", "filename": "a.pdf",
"extension": ".pdf", "mime_type": "application/pdf", "size": 1234, "url": ...}``.

Treadle has no file storage service yet, so a file made from bytes carries them in a base64
``data:`` URL, which every node that reads files can read back.
"""

from __future__ import annotations

import base64
import mimetypes
import posixpath
from typing import Any

__all__ = ["FILE_IDENTITY", "extension_of", "file_type_of", "file_value", "normalize_extension"]

#: The marker Dify puts in every serialised file object.
FILE_IDENTITY = "__dify__file__"

_TYPES_BY_EXTENSION: dict[str, str] = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".webp", ".gif", ".svg", ".bmp", ".tiff"), "image"),
    **dict.fromkeys((".mp4", ".mov", ".mpeg", ".webm", ".avi", ".mkv"), "video"),
    **dict.fromkeys((".mp3", ".m4a", ".wav", ".amr", ".mpga", ".ogg", ".flac"), "audio"),
    **dict.fromkeys(
        (
            ".txt", ".markdown", ".md", ".mdx", ".pdf", ".html", ".htm", ".xlsx", ".xls", ".vtt",
            ".properties", ".doc", ".docx", ".csv", ".eml", ".msg", ".pptx", ".ppt", ".xml", ".epub",
            ".json", ".yaml", ".yml",
        ),
        "document",
    ),
}  # fmt: skip


def normalize_extension(value: str) -> str:
    """An extension in lower case with its dot (``"PDF"`` and ``".pdf"`` give ``".pdf"``); ``""`` stays."""
    value = value.strip().lower()
    return "" if not value else value if value.startswith(".") else f".{value}"


def extension_of(filename: str, mime_type: str) -> str:
    """The extension of ``filename``, else the usual one of ``mime_type`` (``""`` if neither tells)."""
    return normalize_extension(posixpath.splitext(filename)[1]) or normalize_extension(
        mimetypes.guess_extension(mime_type, strict=False) or ""
    )


def file_type_of(extension: str, mime_type: str) -> str:
    """Dify's file category (``image``, ``document``, ``audio``, ``video`` or ``custom``)."""
    if extension.lower() in _TYPES_BY_EXTENSION:
        return _TYPES_BY_EXTENSION[extension.lower()]
    main = mime_type.split("/", 1)[0].lower()
    return main if main in ("image", "audio", "video") else "custom"


def file_value(data: bytes, *, filename: str, mime_type: str) -> dict[str, Any]:
    """A ``tool_file`` file value holding ``data`` in a base64 ``data:`` URL."""
    extension = extension_of(filename, mime_type)
    return {
        "dify_model_identity": FILE_IDENTITY,
        "id": None,
        "type": file_type_of(extension, mime_type),
        "transfer_method": "tool_file",
        "remote_url": None,
        "related_id": None,
        "filename": filename,
        "extension": extension,
        "mime_type": mime_type,
        "size": len(data),
        "url": f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}",
    }
