"""The document extractor: text out of txt, md, html, csv, json, yaml, pdf, docx and xlsx files.

Registers the ``document-extractor`` node type (NODE-DOC-EXTRACTOR) and the ``document_extractor``
tool provider (its ``extract_text`` tool reads the same files, for knowledge base ingestion).
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType, ToolProvider
from treadle_sdk.hookspecs import hookimpl

from .errors import DocumentExtractorError, TextExtractionError, UnsupportedFileTypeError
from .extract import extract_text
from .formats import Format, format_of
from .node import DocumentExtractorNodeType, PreparedDocumentExtractor
from .tool import DocumentExtractorToolProvider, ExtractTextTool

__all__ = [
    "DocumentExtractorError",
    "DocumentExtractorNodeType",
    "DocumentExtractorToolProvider",
    "ExtractTextTool",
    "Format",
    "PreparedDocumentExtractor",
    "TextExtractionError",
    "UnsupportedFileTypeError",
    "extract_text",
    "format_of",
    "register_node_types",
    "register_tools",
]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register ``document-extractor``, its downloads guarded by the operator's ``TREADLE_SSRF_ALLOW``."""
    register(DocumentExtractorNodeType())


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register the ``document_extractor`` tool provider (``extract_text``), its downloads guarded the same way."""
    register(DocumentExtractorToolProvider())
