"""The ``document_extractor`` tool provider: ``extract_text``, the text of one file, for knowledge
base ingestion (issue 6) and for workflows and agents that want a document's text from a tool.

It reads what the document-extractor node reads (NODE-DOC-EXTRACTOR), the same way: the file's bytes
through :class:`~treadle_http_node.files.FileReader` (stored files through the kernel's ``read_file``,
for the workspace of the call), its format from its extension, else its MIME type. Two differences
suit retrieval: HTML headings come out as Markdown headings, and the format read is reported.
"""

from __future__ import annotations

import asyncio
from typing import Any

from treadle_http_node import FileReadError
from treadle_http_node.files import DEFAULT_MAX_FILE_BYTES, FileReader, FileRef
from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import Tool, ToolProvider
from treadle_sdk.schemas import ToolParameter, ToolParameterType, ToolProviderSchema, ToolSchema
from treadle_sdk.ssrf import SSRFGuard
from treadle_sdk.tool_parameters import invalid_parameter
from treadle_sdk.tool_runtime import JsonMessage, TextMessage, VariableMessage

from .errors import UnsupportedFileTypeError
from .extract import extract_text
from .formats import EXTENSIONS, format_of

__all__ = ["DocumentExtractorToolProvider", "ExtractTextTool"]

_READS = ", ".join(sorted(EXTENSIONS))


class ExtractTextTool(Tool):
    """``extract_text``: the text of a document file.

    Its messages: the text (the ``text`` output), a JSON message ``{"text", "format", "characters"}``
    and the variables ``format`` and ``characters``. A file it cannot read is a
    ``PluginInvalidArgument`` on parameter ``file`` that names the file and what is wrong, with
    ``details.error_type`` one of the node's names: ``UnsupportedFileTypeError``,
    ``TextExtractionError`` (the content is not what its type says) or ``FileReadError``.
    """

    schema = ToolSchema(
        name="extract_text",
        label="Extract Text",
        description=f"The text of a document ({_READS}); tables as Markdown tables.",
        llm_description="Read the text of a document file: PDF, Word, Excel, CSV, HTML, Markdown, JSON, YAML or text.",
        parameters=[
            ToolParameter(
                name="file",
                type=ToolParameterType.FILE,
                label="File",
                required=True,
                human_description=f"The document to read ({_READS}).",
                llm_description="The document file to read.",
            )
        ],
        output_schema={
            "type": "object",
            "properties": {
                "format": {"type": "string", "description": "How the file was read: pdf, docx, xlsx, markdown ..."},
                "characters": {"type": "integer", "description": "The length of the text, in characters"},
            },
        },
    )

    def __init__(self, files: FileReader) -> None:
        self.files = files

    async def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        file = FileRef.from_value(parameters["file"])
        if file is None:
            raise invalid_parameter("file", "is not a file object (it needs a transfer_method and a URL or file id)")
        try:
            kind = format_of(file)
        except UnsupportedFileTypeError as exc:
            raise _error(exc.message, exc.error_type, file) from None
        try:
            data = await self.files.read(file, ctx.kernel)
        except FileReadError as exc:
            raise _error(exc.message, exc.error_type, file) from None
        try:
            # Parsing a large PDF or workbook takes a while: not on the host's event loop.
            text = await asyncio.to_thread(extract_text, data, kind, html_headings=True)
        except ValueError as exc:
            message = f"cannot read {file.label} as {kind.value.upper()}: {exc}"
            raise _error(message, "TextExtractionError", file, format=kind.value) from None
        return [
            TextMessage(text=text),
            JsonMessage(json_object={"text": text, "format": kind.value, "characters": len(text)}),
            VariableMessage(name="format", value=kind.value),
            VariableMessage(name="characters", value=len(text)),
        ]


def _error(message: str, error_type: str, file: FileRef, **details: Any) -> PluginInvalidArgument:
    return invalid_parameter("file", message, error_type=error_type, filename=file.label, **details)


class DocumentExtractorToolProvider(ToolProvider):
    """The ``document_extractor`` provider: no credentials, one tool.

    :param guard: the SSRF guard files given by URL are downloaded through (by default the operator's).
    :param max_file_bytes: the largest file read (Dify's upload limit, 15 MB, by default).
    """

    schema = ToolProviderSchema(
        name="document_extractor",
        author="treadle",
        label="Document Extractor",
        description="The text of documents: PDF, Word, Excel, CSV, HTML, Markdown, JSON, YAML and text files.",
        tags=["productivity", "utilities"],
    )

    def __init__(self, *, guard: SSRFGuard | None = None, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.tools = [ExtractTextTool(FileReader(guard or SSRFGuard(), max_bytes=max_file_bytes))]
