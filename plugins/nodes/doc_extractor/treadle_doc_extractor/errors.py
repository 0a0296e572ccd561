"""What goes wrong in a document extractor node, with the ``error_type`` names Dify gives them."""

from __future__ import annotations

from treadle_sdk.nodes import NodeRunError

__all__ = ["DocumentExtractorError", "TextExtractionError", "UnsupportedFileTypeError"]


class DocumentExtractorError(NodeRunError):
    """The node's input is not a file or an array of files."""

    error_type = "DocumentExtractorError"


class UnsupportedFileTypeError(DocumentExtractorError):
    """The file's type (extension or MIME type) is not one the node reads."""

    error_type = "UnsupportedFileTypeError"


class TextExtractionError(DocumentExtractorError):
    """The file claims a type the node reads, but its content cannot be read as that type."""

    error_type = "TextExtractionError"
