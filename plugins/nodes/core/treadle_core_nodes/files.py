"""File variables as nodes see them (VAR-FILE-OBJECT): recognising one, reading its attributes,
and writing it into Markdown.

A file is an object in Dify's JSON shape: ``type`` (image, document, audio, video, custom),
``transfer_method`` (local_file, remote_url, tool_file), ``filename``, ``extension``, ``mime_type``,
``size``, ``url`` or ``remote_url``, ``related_id`` or ``upload_file_id``. Conditions and the list
operator name attributes the way Dify's editor does (``name``, ``url`` ...), mapped here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "FILE_ATTRIBUTES",
    "FILE_TYPES",
    "TRANSFER_METHODS",
    "file_attribute",
    "file_markdown",
    "is_file",
    "normalize_extension",
]

#: The attributes conditions and sorting may name.
FILE_ATTRIBUTES = frozenset({"type", "size", "name", "mime_type", "transfer_method", "url", "extension", "related_id"})
FILE_TYPES = frozenset({"image", "document", "audio", "video", "custom"})
TRANSFER_METHODS = frozenset({"local_file", "remote_url", "tool_file", "datasource"})

#: Where each attribute may be stored, first match wins.
_KEYS: dict[str, tuple[str, ...]] = {
    "name": ("filename", "name"),
    "url": ("url", "remote_url"),
    "related_id": ("related_id", "upload_file_id", "tool_file_id", "id"),
}

_MARKER_KEY = "dify_model_identity"
_MARKER = "__dify__file__"


def is_file(value: Any) -> bool:
    """True for an object in the file shape (Dify's marker, or a type and a transfer method)."""
    if not isinstance(value, Mapping):
        return False
    return value.get(_MARKER_KEY) == _MARKER or ("transfer_method" in value and "type" in value)


def normalize_extension(value: Any) -> Any:
    """``pdf`` and ``.pdf`` name the same extension: give it its leading dot."""
    if isinstance(value, str) and value and not value.startswith("."):
        return "." + value
    return value


def _read(file: Any, key: str) -> Any:
    if isinstance(file, Mapping):
        return file.get(key)
    return getattr(file, key, None)


def file_attribute(file: Any, key: str) -> Any:
    """The attribute ``key`` of a file (``None`` when the file does not say). ``extension`` comes
    with its leading dot, and from the file name when the file gives no extension."""
    if key == "extension":
        extension = _read(file, "extension")
        if not extension:
            name = _read(file, "filename") or _read(file, "name")
            if isinstance(name, str) and "." in name:
                extension = name[name.rindex(".") :]
        return normalize_extension(extension)
    for stored in _KEYS.get(key, (key,)):
        value = _read(file, stored)
        if value is not None:
            return value
    return None


def file_markdown(file: Any) -> str:
    """A file as Markdown, as Answer nodes show it: an image inline, any other file as a link."""
    url = file_attribute(file, "url") or ""
    name = file_attribute(file, "name") or ""
    if file_attribute(file, "type") == "image":
        return f"![{name}]({url})"
    return f"[{name or url}]({url})"
