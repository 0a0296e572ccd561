"""Which reader a file needs, from its extension, else its MIME type (NODE-DOC-EXTRACTOR)."""

from __future__ import annotations

import enum

from treadle_http_node.files import FileRef

from .errors import UnsupportedFileTypeError

__all__ = ["EXTENSIONS", "MIME_TYPES", "Format", "format_of"]


class Format(enum.StrEnum):
    """How a file's text is read."""

    TEXT = "text"
    #: Read as text, as it is: its headings are what retrieval cuts and matches on.
    MARKDOWN = "markdown"
    HTML = "html"
    CSV = "csv"
    JSON = "json"
    YAML = "yaml"
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"


EXTENSIONS: dict[str, Format] = {
    ".txt": Format.TEXT,
    ".text": Format.TEXT,
    ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN,
    ".mdx": Format.MARKDOWN,
    ".xml": Format.TEXT,
    ".properties": Format.TEXT,
    ".html": Format.HTML,
    ".htm": Format.HTML,
    ".csv": Format.CSV,
    ".json": Format.JSON,
    ".yaml": Format.YAML,
    ".yml": Format.YAML,
    ".pdf": Format.PDF,
    ".docx": Format.DOCX,
    ".xlsx": Format.XLSX,
}

MIME_TYPES: dict[str, Format] = {
    "text/plain": Format.TEXT,
    "text/markdown": Format.MARKDOWN,
    "text/x-markdown": Format.MARKDOWN,
    "text/xml": Format.TEXT,
    "application/xml": Format.TEXT,
    "text/html": Format.HTML,
    "application/xhtml+xml": Format.HTML,
    "text/csv": Format.CSV,
    "application/csv": Format.CSV,
    "application/json": Format.JSON,
    "application/yaml": Format.YAML,
    "application/x-yaml": Format.YAML,
    "text/yaml": Format.YAML,
    "text/x-yaml": Format.YAML,
    "application/pdf": Format.PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": Format.DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": Format.XLSX,
}


def format_of(file: FileRef) -> Format:
    """The reader for ``file``; raises :class:`UnsupportedFileTypeError` naming what it is."""
    if file.extension in EXTENSIONS:
        return EXTENSIONS[file.extension]
    mime = file.mime_type.split(";", 1)[0].strip().lower()
    if mime in MIME_TYPES:
        return MIME_TYPES[mime]
    supported = ", ".join(sorted(EXTENSIONS))
    if not file.extension and not mime:
        raise UnsupportedFileTypeError(
            f"cannot tell the type of file {file.label}: it has no extension and no MIME type "
            f"(the document extractor reads {supported})"
        )
    kind = file.extension or mime
    raise UnsupportedFileTypeError(
        f"unsupported file type {kind} (file {file.label}); the document extractor reads {supported}"
    )
