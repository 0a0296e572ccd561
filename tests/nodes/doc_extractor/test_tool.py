"""The ``document_extractor`` tool provider's ``extract_text`` (issue 6, knowledge base ingestion): the
node's readers behind a tool, called through the real dispatcher; stored files read back through the
kernel's ``read_file``; failures that name the file and what is wrong with it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import treadle_doc_extractor
from treadle_doc_extractor import DocumentExtractorToolProvider
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import ToolProvider
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.testing import MemoryKernel, ainvoke, load
from treadle_sdk.tool_runtime import JsonMessage, TextMessage, VariableMessage

from .documents import make_docx, make_pdf, make_xlsx
from .test_doc_extractor import DOCX, XLSX, document


async def extract(file: Any, *, kernel: MemoryKernel | None = None, plugin: Any = treadle_doc_extractor) -> list[Any]:
    payload = {"tool": "extract_text", "parameters": {"file": file}}
    return await ainvoke(plugin, "tool_provider", "document_extractor", "invoke_tool", payload, kernel=kernel)


async def extracted(data: bytes, filename: str, mime_type: str = "") -> tuple[str, dict[str, Any]]:
    """The text message and the JSON message of extracting ``data``, checked against each other."""
    messages = await extract(document(data, filename, mime_type))
    [text], [details] = (
        [m.text for m in messages if isinstance(m, TextMessage)],
        [m.json_object for m in messages if isinstance(m, JsonMessage)],
    )
    variables = {m.name: m.value for m in messages if isinstance(m, VariableMessage)}
    assert isinstance(details, dict)
    assert details == {"text": text, "format": variables["format"], "characters": len(text)}
    assert variables["characters"] == len(text)
    return text, details


def test_the_provider_registers_one_tool_taking_a_file() -> None:
    entry = load(treadle_doc_extractor).extensions.get("tool_provider", "document_extractor")
    assert entry is not None
    [tool] = entry.schema["tools"]
    assert tool["name"] == "extract_text"
    assert [(p["name"], p["type"], p["required"]) for p in tool["parameters"]] == [("file", "file", True)]
    assert set(tool["output_schema"]["properties"]) == {"format", "characters"}
    # The node type is still there beside it.
    assert load(treadle_doc_extractor).extensions.get("node_type", "document-extractor") is not None


# -- formats ------------------------------------------------------------------------------------


async def test_markdown_is_kept_as_it_is() -> None:
    markdown = "# Lease\n\n## Rent\n\nPaid on the **first** day.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert await extracted(markdown.encode(), "lease.md") == (
        markdown,
        {"text": markdown, "format": "markdown", "characters": len(markdown)},
    )
    assert (await extracted(b"# Title\n", "notes", "text/markdown"))[1]["format"] == "markdown"


async def test_html_keeps_its_headings_as_markdown_headings() -> None:
    html = (
        "<html><head><title>Handbook</title><script>var x = '<h1>no</h1>';</script></head><body>"
        "<h1>Leave  policy</h1><p>Everyone gets <b>25</b> days.</p>"
        "<h2>Sick leave</h2><ul><li>tell your lead</li><li>rest</li></ul><h3></h3><h6>Fine print</h6>"
        "</body></html>"
    )
    text, details = await extracted(html.encode(), "handbook.html", "text/html")
    assert text == (
        "Handbook\n\n# Leave policy\n\nEveryone gets 25 days.\n\n## Sick leave\n\ntell your lead\nrest\n\n"
        "###### Fine print"
    )
    assert details["format"] == "html"


async def test_pdf_docx_csv_xlsx_json_yaml_and_text() -> None:
    cases = [
        (make_pdf([["Page one"], ["Page two"]]), "r.pdf", "application/pdf", "pdf", "Page one\n\nPage two"),
        (make_docx("Intro", [["k", "v"]]), "m.docx", DOCX, "docx", "Intro\n\n| k | v |\n| --- | --- |"),
        (b"a,b\n1,2\n", "t.csv", "text/csv", "csv", "| a | b |\n| --- | --- |\n| 1 | 2 |"),
        (make_xlsx({"S": [["a"], [1]]}), "w.xlsx", XLSX, "xlsx", "## S\n\n| a |\n| --- |\n| 1 |"),
        (b'{"k":[1]}', "d.json", "application/json", "json", '{\n  "k": [\n    1\n  ]\n}'),
        (b"k: [1]\n", "c.yaml", "application/yaml", "yaml", "k:\n- 1"),
        ("plain ünïcode\n".encode(), "p.txt", "text/plain", "text", "plain ünïcode\n"),
    ]
    for data, filename, mime_type, kind, expected in cases:
        text, details = await extracted(data, filename, mime_type)
        assert (text, details["format"]) == (expected, kind), filename


async def test_a_stored_file_is_read_through_the_kernel() -> None:
    content = make_docx("Stored contract")
    stored = {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "local_file",
        "related_id": "f-1",
        "filename": "contract.docx",
        "extension": ".docx",
        "mime_type": DOCX,
        "url": "http://127.0.0.1:5001/files/f-1/file-preview?sign=x",
    }

    def read_file(payload: dict[str, Any]) -> list[Any]:
        if payload["file_id"] != "f-1":
            raise PluginNotFound(f"there is no file {payload['file_id']!r} in this workspace")
        return [base64.b64encode(content).decode()]

    kernel = MemoryKernel(asyncio.get_running_loop(), {"read_file": read_file})
    messages = await extract(stored, kernel=kernel)
    assert messages[0] == TextMessage(text="Stored contract")
    # Read by id (not by the preview URL, which points at the server itself), within the size limit.
    assert kernel.calls == [("read_file", {"file_id": "f-1", "max_bytes": 15 * 1024 * 1024})]

    with pytest.raises(PluginInvalidArgument, match=r"there is no stored file 'f-2' in this workspace") as caught:
        await extract({**stored, "related_id": "f-2"}, kernel=kernel)
    assert caught.value.details == {"parameter": "file", "error_type": "FileReadError", "filename": "contract.docx"}


# -- what it cannot read ------------------------------------------------------------------------


async def test_an_unsupported_type_names_the_file_and_its_type() -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        await extract(document(b"\x00", "slides.pptx", "application/vnd.ms-powerpoint"))
    assert caught.value.message.startswith("parameter 'file': unsupported file type .pptx (file slides.pptx)")
    assert ".pdf" in caught.value.message and ".xlsx" in caught.value.message
    assert caught.value.details == {
        "parameter": "file",
        "error_type": "UnsupportedFileTypeError",
        "filename": "slides.pptx",
    }


@pytest.mark.parametrize(
    ("data", "filename", "kind", "message"),
    [
        (b"not a pdf", "scan.pdf", "pdf", r"cannot read scan\.pdf as PDF"),
        (b"PK\x03\x04 junk", "memo.docx", "docx", r"cannot read memo\.docx as DOCX: not a Word document"),
        (make_docx("a Word file renamed"), "sheet.xlsx", "xlsx", r"cannot read sheet\.xlsx as XLSX: not an Excel"),
        (b'{"a": ', "data.json", "json", r"cannot read data\.json as JSON"),
    ],
)
async def test_a_corrupt_file_names_the_file_and_the_format(
    data: bytes, filename: str, kind: str, message: str
) -> None:
    with pytest.raises(PluginInvalidArgument, match=message) as caught:
        await extract(document(data, filename))
    assert caught.value.details == {
        "parameter": "file",
        "error_type": "TextExtractionError",
        "filename": filename,
        "format": kind,
    }


async def test_a_value_that_is_not_a_file_is_refused() -> None:
    with pytest.raises(PluginInvalidArgument, match=r"'file' of tool 'extract_text' must be a file"):
        await extract("just text")
    with pytest.raises(PluginInvalidArgument, match=r"parameter 'file': is not a file object"):
        await extract({"name": "x.txt"})
    with pytest.raises(PluginInvalidArgument, match=r"parameter 'file' of tool 'extract_text' is required"):
        await extract(None)


class TenByteFiles:
    """A plugin registering the provider with a 10-byte file limit."""

    @hookimpl
    def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
        register(DocumentExtractorToolProvider(max_file_bytes=10))


async def test_the_size_limit_holds() -> None:
    small = load(TenByteFiles())
    assert (await extract(document(b"0123456789", "ok.txt"), plugin=small))[0] == TextMessage(text="0123456789")
    with pytest.raises(PluginInvalidArgument, match=r"cannot read file big\.txt: it is 11 bytes, more than the 10"):
        await extract(document(b"0123456789!", "big.txt"), plugin=small)


async def test_messages_are_plain_json_on_the_wire() -> None:
    messages = await extract(document(b"x", "x.md"))
    assert json.loads(json.dumps([m.model_dump(mode="json") for m in messages])) == [
        {"type": "text", "text": "x"},
        {"type": "json", "json_object": {"text": "x", "format": "markdown", "characters": 1}},
        {"type": "variable", "name": "format", "value": "markdown", "stream": False},
        {"type": "variable", "name": "characters", "value": 1, "stream": False},
    ]
