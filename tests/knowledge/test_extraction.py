"""Document text for knowledge bases (issue 6): ``extract_document`` hands a file stored through the
kernel's FileService to the doc-extractor plugin's ``document_extractor/extract_text`` tool, run by a
real supervisor in a plugin host process (its default placement) and inline, for md, html, pdf,
docx, csv, xlsx and json; failures name the file and the reason."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from nodes.doc_extractor.documents import make_docx, make_pdf, make_xlsx
from treadle.config import Settings
from treadle.files import FileService, FileSigner, MemoryFileRecordStore, PluginStorage
from treadle.knowledge import SUPPORTED_EXTENSIONS, ExtractedText, KnowledgeExtractionError, extract_document
from treadle.knowledge.errors import KnowledgeError
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle_doc_extractor.formats import EXTENSIONS
from treadle_sdk.context import CallContext
from treadle_sdk.extensions import Tool, ToolProvider
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.schemas import ToolParameter, ToolParameterType, ToolProviderSchema, ToolSchema

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    # A short path: a plugin host's socket lives under it.
    path = Path(tempfile.mkdtemp(prefix="trx-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def file_service(supervisor: PluginSupervisor) -> FileService:
    storage = PluginStorage(supervisor, supervisor.settings.storage.backend, home=supervisor.settings.home)
    return FileService(storage, MemoryFileRecordStore(), FileSigner(b"s" * 32))


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["plugin-host", "inline"])
async def supervisor(request: pytest.FixtureRequest, home: Path) -> AsyncIterator[PluginSupervisor]:
    """Local storage inline; the doc-extractor in a host process of its own, or inline."""
    storage, extractor = PluginSpec("local-storage"), PluginSpec("doc-extractor")
    if request.param == "inline":
        groups = [GroupPlan("inline", True, (storage, extractor))]
    else:
        groups = [GroupPlan("inline", True, (storage,)), GroupPlan("first-party", False, (extractor,))]
    async with PluginSupervisor(Settings.load(home=home / request.param), groups=groups) as running:
        running.services.files = file_service(running)
        yield running


async def stored(supervisor: PluginSupervisor, filename: str, content: bytes, mime_type: str = "") -> str:
    """The id of a file uploaded to workspace t1."""
    files = supervisor.services.files
    assert isinstance(files, FileService)
    record = await files.upload("t1", filename=filename, content=content, mime_type=mime_type, created_by="u1")
    return record.id


HTML = b"""<html><head><title>Handbook</title><style>h1 { color: red }</style></head><body>
<h1>Leave</h1><p>25 days, &amp; more.</p><h2>Sick leave</h2><ul><li>Tell your lead.</li></ul></body></html>"""
MARKDOWN = "# Leave\n\n## Sick leave\n\nTell your lead. Ünïcode survives.\n"

CASES = [
    ("handbook.md", MARKDOWN.encode(), "text/markdown", ExtractedText(MARKDOWN, "markdown")),
    (
        "handbook.html",
        HTML,
        "text/html",
        ExtractedText("Handbook\n\n# Leave\n\n25 days, & more.\n\n## Sick leave\n\nTell your lead.", "html"),
    ),
    (
        "report.pdf",
        make_pdf([["Quarterly report"], ["Page two"]]),
        "application/pdf",
        ExtractedText("Quarterly report\n\nPage two", "pdf"),
    ),
    (
        "memo.docx",
        make_docx("Memo", [["Name", "Role"], ["Ann", "Lead"]]),
        DOCX,
        ExtractedText("Memo\n\n| Name | Role |\n| --- | --- |\n| Ann | Lead |", "docx"),
    ),
    (
        "people.csv",
        b"name,city\nAnn,Oslo\n",
        "text/csv",
        ExtractedText("| name | city |\n| --- | --- |\n| Ann | Oslo |", "csv"),
    ),
    (
        "budget.xlsx",
        make_xlsx({"2024": [["Item", "Cost"], ["Laptops", 1200.5]], "Notes": [["Approved"]]}),
        XLSX,
        ExtractedText(
            "## 2024\n\n| Item | Cost |\n| --- | --- |\n| Laptops | 1200.5 |\n\n## Notes\n\n| Approved |\n| --- |",
            "xlsx",
        ),
    ),
    (
        "data.json",
        b'{"title":"Leave","days":25}',
        "application/json",
        ExtractedText('{\n  "title": "Leave",\n  "days": 25\n}', "json"),
    ),
]


@pytest.mark.parametrize(("filename", "content", "mime_type", "expected"), CASES, ids=[case[0] for case in CASES])
@pytest.mark.asyncio(loop_scope="module")
async def test_the_text_of_each_format(
    supervisor: PluginSupervisor, filename: str, content: bytes, mime_type: str, expected: ExtractedText
) -> None:
    file_id = await stored(supervisor, filename, content, mime_type)
    assert await extract_document(supervisor, "t1", file_id) == expected


@pytest.mark.asyncio(loop_scope="module")
async def test_the_extractor_runs_where_it_is_placed(supervisor: PluginSupervisor) -> None:
    (row,) = [row for row in supervisor.table() if row["name"] == "doc-extractor"]
    assert "tool_provider:document_extractor" in row["registers"]
    assert (row["group"] == "inline") == (row["pid"] is None)


@pytest.mark.asyncio(loop_scope="module")
async def test_another_workspace_cannot_extract_the_file(supervisor: PluginSupervisor) -> None:
    file_id = await stored(supervisor, "secret.md", b"# Salaries")
    with pytest.raises(KnowledgeExtractionError, match="there is no such file in this workspace") as caught:
        await extract_document(supervisor, "t2", file_id)
    assert (caught.value.file_id, caught.value.filename) == (file_id, "")


@pytest.mark.asyncio(loop_scope="module")
async def test_an_unsupported_type_names_the_file_and_the_type(supervisor: PluginSupervisor) -> None:
    file_id = await stored(supervisor, "slides.pptx", b"PK\x03\x04", "application/vnd.ms-powerpoint")
    with pytest.raises(KnowledgeExtractionError) as caught:
        await extract_document(supervisor, "t1", file_id)
    assert caught.value.message.startswith(
        f"cannot extract the text of file 'slides.pptx' ({file_id}): unsupported file type .pptx"
    )
    assert isinstance(caught.value, KnowledgeError) and isinstance(caught.value, ValueError)
    assert (caught.value.filename, caught.value.error_type) == ("slides.pptx", "UnsupportedFileTypeError")


@pytest.mark.asyncio(loop_scope="module")
async def test_a_corrupt_file_names_the_file_and_the_format(supervisor: PluginSupervisor) -> None:
    file_id = await stored(supervisor, "scan.pdf", b"%PDF-1.4 truncated", "application/pdf")
    with pytest.raises(
        KnowledgeExtractionError, match=r"file 'scan\.pdf' \(.+\): cannot read scan\.pdf as PDF"
    ) as caught:
        await extract_document(supervisor, "t1", file_id)
    assert caught.value.error_type == "TextExtractionError"


@pytest.mark.asyncio(loop_scope="module")
async def test_unknown_file_ids_are_named(supervisor: PluginSupervisor) -> None:
    with pytest.raises(KnowledgeExtractionError, match="cannot extract the text of file 'nope': there is no such file"):
        await extract_document(supervisor, "t1", "nope")


async def test_without_the_extractor_plugin_or_a_file_service_the_error_says_so(tmp_path: Path) -> None:
    groups = [GroupPlan("inline", True, (PluginSpec("local-storage"),))]
    async with PluginSupervisor(Settings.load(home=tmp_path), groups=groups) as supervisor:
        with pytest.raises(KnowledgeExtractionError, match="cannot extract the text of file 'f1': this kernel has no"):
            await extract_document(supervisor, "t1", "f1")
        supervisor.services.files = file_service(supervisor)
        file_id = await stored(supervisor, "a.md", b"# A")
        with pytest.raises(
            KnowledgeExtractionError,
            match=rf"file 'a\.md' \({file_id}\): tool provider 'document_extractor' is not installed",
        ):
            await extract_document(supervisor, "t1", file_id)


class TextOnlyTool(Tool):
    """An ``extract_text`` that answers with a text message only."""

    schema = ToolSchema(
        name="extract_text",
        label="Extract",
        description="Text only.",
        parameters=[ToolParameter(name="file", type=ToolParameterType.FILE, label="File", required=True)],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        return "some text"


class ImpostorProvider(ToolProvider):
    schema = ToolProviderSchema(name="document_extractor", label="Impostor", description="Not the extractor.")

    def __init__(self) -> None:
        self.tools = [TextOnlyTool()]


class Impostor:
    """A plugin that registers a ``document_extractor`` provider of its own."""

    @hookimpl
    def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
        register(ImpostorProvider())


IMPOSTOR = Impostor()


async def test_a_tool_answering_without_the_json_message_is_an_error(tmp_path: Path) -> None:
    impostor = PluginSpec("impostor", path=f"{__name__}:IMPOSTOR")
    groups = [GroupPlan("inline", True, (PluginSpec("local-storage"), impostor))]
    async with PluginSupervisor(Settings.load(home=tmp_path), groups=groups) as supervisor:
        supervisor.services.files = file_service(supervisor)
        file_id = await stored(supervisor, "a.md", b"# A")
        with pytest.raises(KnowledgeExtractionError, match=r"tool answered without a JSON message holding the text"):
            await extract_document(supervisor, "t1", file_id)


def test_the_supported_extensions_are_what_the_extractor_reads() -> None:
    """The kernel cannot import the plugin (layering), so its list is a copy: kept equal here."""
    assert sorted(SUPPORTED_EXTENSIONS) == sorted(EXTENSIONS)
    assert {".txt", ".md", ".html", ".pdf", ".docx", ".csv", ".xlsx", ".json"} <= set(SUPPORTED_EXTENSIONS)
