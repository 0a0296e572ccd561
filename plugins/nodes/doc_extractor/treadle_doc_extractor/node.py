"""The ``document-extractor`` node type (NODE-DOC-EXTRACTOR): the text of a file, or of each file of
an array, for LLMs to read.

``variable_selector`` names a file variable (``text`` is a string) or an array of files (``text``
is an array of strings, one per file, in order). File bytes are read by the HTTP node's
:class:`~treadle_http_node.files.FileReader`: stored files (``local_file`` uploads) through the
kernel, ``data:`` URLs, and http(s) URLs through the SSRF guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from treadle_http_node.files import DEFAULT_MAX_FILE_BYTES, FileReader, FileRef
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.ssrf import SSRFGuard

from .errors import DocumentExtractorError, TextExtractionError
from .extract import extract_text
from .formats import format_of

__all__ = ["DocumentExtractorNodeType", "PreparedDocumentExtractor"]


class DocumentExtractorData(BaseModel):
    """The node's ``data``: the file variable to read (``is_array_file`` is the editor's hint; the
    variable's value decides)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    variable_selector: list[str]
    is_array_file: bool = False

    @field_validator("variable_selector")
    @classmethod
    def _a_selector(cls, value: list[str]) -> list[str]:
        if len(value) < 2:
            raise ValueError("needs a variable selector: [node_id, variable, ...]")
        return value


class DocumentExtractorNodeType(NodeType):
    """Extracts the text of documents: txt, md, html, csv, json, yaml, pdf, docx, xlsx and more.

    :param guard: the SSRF guard file downloads go through (by default the operator's).
    :param max_file_bytes: the largest file read (Dify's upload limit, 15 MB, by default).
    """

    schema = NodeTypeSchema(
        name="document-extractor",
        label={"en_US": "Doc Extractor"},
        description={"en_US": "Extract the text of documents for LLMs to read."},
    )

    def __init__(self, *, guard: SSRFGuard | None = None, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.files = FileReader(guard or SSRFGuard(), max_bytes=max_file_bytes)

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedDocumentExtractor:
        try:
            data = DocumentExtractorData.model_validate(config)
        except ValidationError as exc:
            error = exc.errors()[0]
            path = ".".join(str(part) for part in error["loc"])
            raise NodeConfigError(str(error["msg"]).removeprefix("Value error, "), path) from None
        return PreparedDocumentExtractor(self, node_id, config, data)


class PreparedDocumentExtractor(PreparedNode):
    """One configured document extractor node."""

    def __init__(
        self,
        node_type: DocumentExtractorNodeType,
        node_id: str,
        config: Mapping[str, Any],
        data: DocumentExtractorData,
    ) -> None:
        self.node_type = node_type
        self.node_id = node_id
        self.config = config
        self.data = data

    async def run(self, rt: NodeRuntime) -> NodeResult:
        selector = self.data.variable_selector
        value = rt.get(selector)
        where = ".".join(selector)
        if isinstance(value, list):
            files = [self._file(item, f"{where}[{index}]") for index, item in enumerate(value)]
            text: str | list[str] = [await self._text(file, rt) for file in files]
        else:
            text = await self._text(self._file(value, where), rt)
        return NodeResult(outputs={"text": text}, inputs={"variable_selector": selector})

    @staticmethod
    def _file(value: Any, where: str) -> FileRef:
        file = FileRef.from_value(value)
        if file is None:
            raise DocumentExtractorError(f"{where} is not a file or an array of files: {type(value).__name__}")
        return file

    async def _text(self, file: FileRef, rt: NodeRuntime) -> str:
        kind = format_of(file)
        data = await self.node_type.files.read(file, rt.kernel)
        try:
            # Parsing a large PDF or Word file takes a while: not on the event loop.
            return await asyncio.to_thread(extract_text, data, kind)
        except ValueError as exc:
            raise TextExtractionError(f"cannot read {file.label} as {kind.value.upper()}: {exc}") from None
