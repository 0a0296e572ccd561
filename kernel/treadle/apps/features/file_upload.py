"""File upload limits (FEAT-FILE-UPLOAD): which files a run may bring, checked before it starts.

The DSL writes them in ``features.file_upload`` (``model_config.file_upload``)::

    enabled: true
    allowed_file_types: [image, document, audio, video, custom]
    allowed_file_extensions: [.PDF, .md]      # what ``custom`` accepts
    allowed_file_upload_methods: [remote_url, local_file]
    number_limits: 3
    image: {enabled, number_limits, detail, transfer_methods}   # the older, image-only shape

A file is a file value as the Service API hands it over (``type``, ``transfer_method``,
``extension`` or ``filename``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FILE_TYPES", "TRANSFER_METHODS", "FileUploadError", "FileUploadLimits"]

FILE_TYPES = ("image", "document", "audio", "video", "custom")
TRANSFER_METHODS = ("remote_url", "local_file", "tool_file")


class FileUploadError(ValueError):
    """Files a run brings break the app's upload limits. ``field`` is where (``files[2].type``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{path}: must be a list of texts, not {value!r}")
    return tuple(value)


def _count(value: Any, path: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValueError(f"{path}: must be a whole number, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class FileUploadLimits:
    """What files a run may bring: whether any, of which types and extensions, by which methods,
    how many."""

    enabled: bool = False
    file_types: tuple[str, ...] = ()
    #: Extensions ``custom`` files may have, lower case with the dot (``.pdf``).
    extensions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("remote_url", "local_file")
    number_limits: int = 3
    image_detail: str = "high"

    @classmethod
    def parse(cls, data: Any, path: str = "features.file_upload") -> FileUploadLimits:
        """Read the DSL's ``file_upload``; a value of the wrong shape raises ``ValueError`` naming it."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: must be an object, not {type(data).__name__}")
        image = data.get("image") or {}
        if not isinstance(image, Mapping):
            raise ValueError(f"{path}.image: must be an object, not {type(image).__name__}")
        types = _strings(data.get("allowed_file_types"), f"{path}.allowed_file_types")
        for index, kind in enumerate(types):
            if kind not in FILE_TYPES:
                raise ValueError(f"{path}.allowed_file_types[{index}]: unknown file type {kind!r}")
        image_on = bool(image.get("enabled"))
        enabled = bool(data.get("enabled")) or image_on
        if image_on and "image" not in types and not data.get("enabled"):
            # Only the image block is on (DSL before file_upload had types): images only.
            types = ("image",)
            methods = _strings(image.get("transfer_methods"), f"{path}.image.transfer_methods")
            limit = _count(image.get("number_limits"), f"{path}.image.number_limits", 3)
        else:
            methods = _strings(data.get("allowed_file_upload_methods"), f"{path}.allowed_file_upload_methods")
            limit = _count(data.get("number_limits"), f"{path}.number_limits", 3)
        extensions = _strings(data.get("allowed_file_extensions"), f"{path}.allowed_file_extensions")
        return cls(
            enabled=enabled,
            file_types=types,
            extensions=tuple(ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in extensions),
            methods=methods or ("remote_url", "local_file"),
            number_limits=limit,
            image_detail=str(image.get("detail") or "high"),
        )

    def check(self, files: Sequence[Any], where: str = "files") -> None:
        """Raise :class:`FileUploadError` for the first file these limits do not accept."""
        if not files:
            return
        if not self.enabled:
            raise FileUploadError("this app does not accept files (file upload is off)", where)
        if len(files) > self.number_limits:
            raise FileUploadError(f"{len(files)} files, but this app accepts at most {self.number_limits}", where)
        for index, file in enumerate(files):
            self._check_one(file, f"{where}[{index}]")

    def _check_one(self, file: Any, where: str) -> None:
        if not isinstance(file, Mapping):
            raise FileUploadError(f"must be a file object, not {type(file).__name__}", where)
        method = file.get("transfer_method")
        if method not in self.methods:
            raise FileUploadError(
                f"upload method {method!r} is not accepted (allowed: {', '.join(self.methods)})",
                f"{where}.transfer_method",
            )
        kind = file.get("type")
        extension = _extension(file)
        if kind in self.file_types and kind != "custom":
            return
        if "custom" in self.file_types and extension in self.extensions:
            return
        allowed = ", ".join(t for t in self.file_types if t != "custom")
        if "custom" in self.file_types:
            allowed = ", ".join(filter(None, [allowed, f"files ending {' '.join(self.extensions)}"]))
        field = f"{where}.type" if kind not in self.file_types else f"{where}.extension"
        shown = f"a {kind!r} file" + (f" ({extension})" if extension else "")
        raise FileUploadError(f"{shown} is not accepted (allowed: {allowed or 'none'})", field)


def _extension(file: Mapping[str, Any]) -> str:
    extension = file.get("extension")
    if not isinstance(extension, str) or not extension:
        name = file.get("filename")
        extension = "." + name.rsplit(".", 1)[1] if isinstance(name, str) and "." in name else ""
    extension = extension.lower()
    return extension if not extension or extension.startswith(".") else f".{extension}"
