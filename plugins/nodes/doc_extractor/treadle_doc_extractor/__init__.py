"""The document extractor node: text out of txt, md, html, csv, json, yaml, pdf and docx files."""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType
from treadle_sdk.hookspecs import hookimpl

from .errors import DocumentExtractorError, TextExtractionError, UnsupportedFileTypeError
from .extract import extract_text
from .formats import Format, format_of
from .node import DocumentExtractorNodeType, PreparedDocumentExtractor

__all__ = [
    "DocumentExtractorError",
    "DocumentExtractorNodeType",
    "Format",
    "PreparedDocumentExtractor",
    "TextExtractionError",
    "UnsupportedFileTypeError",
    "extract_text",
    "format_of",
    "register_node_types",
]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register ``document-extractor``, its downloads guarded by the operator's ``TREADLE_SSRF_ALLOW``."""
    register(DocumentExtractorNodeType())
