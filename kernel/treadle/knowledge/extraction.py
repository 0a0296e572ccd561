"""The text of a document a knowledge base ingests (issue 6: txt, md, html, pdf, docx, csv, xlsx, json ...).

The kernel parses no document itself: the ``extract_text`` tool of the ``document_extractor`` tool
provider (the doc-extractor plugin, out of process by default) does, so that PDF, Word and Excel
parsers never run in the kernel process. The file is one already stored through the kernel's
:class:`~treadle.files.FileService`; it is handed to the tool as a ``local_file`` file value, and the
tool reads its bytes back through the kernel's ``read_file``, for the same workspace only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from treadle_sdk.errors import PluginError

from ..files import FileService, NoSuchFile
from .errors import KnowledgeError

if TYPE_CHECKING:
    from ..plugins import PluginSupervisor

__all__ = [
    "EXTRACTOR_PROVIDER",
    "EXTRACTOR_TOOL",
    "SUPPORTED_EXTENSIONS",
    "ExtractedText",
    "KnowledgeExtractionError",
    "extract_document",
]

#: The tool provider and tool that read documents (plugin doc-extractor).
EXTRACTOR_PROVIDER = "document_extractor"
EXTRACTOR_TOOL = "extract_text"

#: The extensions a knowledge base can read (lower case, with the dot): what the extractor reads,
#: so that the Knowledge API can refuse anything else up front ("File type not allowed.").
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".txt", ".text", ".md", ".markdown", ".mdx", ".html", ".htm", ".pdf", ".docx", ".csv", ".xlsx",
    ".json", ".yaml", ".yml", ".xml", ".properties",
)  # fmt: skip


class KnowledgeExtractionError(KnowledgeError, ValueError):
    """A document's text cannot be extracted. The message says which file and why; ``file_id``,
    ``filename`` and ``error_type`` (the extractor's: ``UnsupportedFileTypeError``,
    ``TextExtractionError``, ``FileReadError``, or ``""``) say it as data."""

    def __init__(self, message: str, *, file_id: str, filename: str = "", error_type: str = "") -> None:
        super().__init__(message)
        self.file_id = file_id
        self.filename = filename
        self.error_type = error_type


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """A document's text, and the format it was read as (``markdown``, ``html``, ``pdf``, ``docx``,
    ``csv``, ``xlsx``, ``json``, ``yaml`` or ``text``). Tables are Markdown tables; Markdown is kept
    as it is, and HTML headings are written as Markdown headings."""

    text: str
    format: str


async def extract_document(supervisor: PluginSupervisor, tenant_id: str, file_id: str) -> ExtractedText:
    """The text of the stored file ``file_id`` of workspace ``tenant_id``.

    The file service is the one the supervisor's plugins read files from (``supervisor.services.files``).
    Raises :class:`KnowledgeExtractionError` when the file is not in the workspace, when the extractor
    is not installed, or when the file is of a type it does not read or is not what its type says.
    """
    files = supervisor.services.files
    if not isinstance(files, FileService):
        raise KnowledgeExtractionError(
            f"cannot extract the text of file {file_id!r}: this kernel has no file service", file_id=file_id
        )
    try:
        record = await files.get(tenant_id, file_id)
    except NoSuchFile:
        raise KnowledgeExtractionError(
            f"cannot extract the text of file {file_id!r}: there is no such file in this workspace", file_id=file_id
        ) from None
    where = f"file {record.name!r} ({file_id})"
    payload = {
        "provider": EXTRACTOR_PROVIDER,
        "tool": EXTRACTOR_TOOL,
        "parameters": {"file": files.file_value(record)},
    }
    try:
        messages = [message async for message in supervisor.tools.invoke(tenant_id, payload, depth=0)]
    except PluginError as exc:
        error_type = str(exc.details.get("error_type") or "")
        # The kernel's errors (not installed, timed out) do not name the file, hence ``where``; the
        # tool's name its parameter, which means nothing to someone indexing a document.
        message = exc.message.removeprefix("parameter 'file': ")
        raise KnowledgeExtractionError(
            f"cannot extract the text of {where}: {message}",
            file_id=file_id,
            filename=record.name,
            error_type=error_type,
        ) from None
    return _result(messages, where, file_id, record.name)


def _result(messages: list[Any], where: str, file_id: str, filename: str) -> ExtractedText:
    """The text and format the tool's JSON message reports."""
    for message in messages:
        if isinstance(message, dict) and message.get("type") == "json":
            found = message.get("json_object")
            if isinstance(found, dict) and isinstance(found.get("text"), str) and isinstance(found.get("format"), str):
                return ExtractedText(text=found["text"], format=found["format"])
    raise KnowledgeExtractionError(
        f"cannot extract the text of {where}: the {EXTRACTOR_PROVIDER}/{EXTRACTOR_TOOL} tool answered "
        "without a JSON message holding the text and its format",
        file_id=file_id,
        filename=filename,
    )
