"""The document-extractor node (NODE-DOC-EXTRACTOR): text out of txt, md, html, csv, json, yaml, pdf,
docx and xlsx files made in the tests, encodings detected, a file or an array of files, clear errors for
what it cannot read, and files fetched by URL through the SSRF guard (VAR-FILE-OBJECT)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import treadle_doc_extractor
from treadle_doc_extractor import (
    DocumentExtractorError,
    DocumentExtractorNodeType,
    TextExtractionError,
    UnsupportedFileTypeError,
)
from treadle_http_node import FileReadError
from treadle_sdk.errors import PluginFailed
from treadle_sdk.files import file_value
from treadle_sdk.nodes import NodeConfigError, NodeResult, WireRuntime
from treadle_sdk.testing import ainvoke

from ..http.server import LocalServer
from ..http.support import RecordingNetwork, guard
from .documents import make_docx, make_pdf, make_xlsx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def config(*selector: str, is_array_file: bool = False) -> dict[str, Any]:
    """The node's data as Dify exports it (see the corpus)."""
    return {
        "type": "document-extractor",
        "title": "文档提取器",
        "desc": "",
        "selected": False,
        "is_array_file": is_array_file,
        "variable_selector": list(selector),
    }


def document(data: bytes, filename: str, mime_type: str = "", **fields: Any) -> dict[str, Any]:
    """A file variable holding ``data`` (in a data: URL), with ``fields`` replaced."""
    value = file_value(data, filename=filename, mime_type=mime_type or "application/octet-stream")
    value["type"] = "document"
    value.update(fields)
    return value


async def run(
    value: Any,
    nodes: DocumentExtractorNodeType | None = None,
    data: Mapping[str, Any] | None = None,
) -> NodeResult:
    node = (nodes or DocumentExtractorNodeType(guard=guard())).prepare("doc", dict(data or config("start", "file")))
    result = await node.run(WireRuntime("doc", {("start", "file"): value}))
    assert isinstance(result, NodeResult)
    return result


async def text_of(data: bytes, filename: str, mime_type: str = "", **fields: Any) -> Any:
    return (await run(document(data, filename, mime_type, **fields))).outputs["text"]


# -- formats ------------------------------------------------------------------------------------


async def test_plain_text_and_markdown_are_read_as_they_are() -> None:
    text = "Title\n\nSome text with ünïcode, emoji 🎉 and\ttabs.\n"
    assert await text_of(text.encode(), "notes.txt", "text/plain") == text
    markdown = "# Heading\n\n- item **bold**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert await text_of(markdown.encode(), "README.md") == markdown
    assert await text_of(b"key=value\n", "app.properties") == "key=value\n"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8-sig", "Texte avec une marque d'ordre des octets : déjà."),
        ("utf-16", "UTF-16 avec BOM : naïve façade."),
        ("gbk", "这是一个用于测试编码检测的中文文档。它包含足够多的文字。以便字符集检测器能够可靠地识别编码。"),
        ("shift_jis", "これは文字コードの検出をテストするための日本語の文書です。十分な長さの文章が必要です。"),
        ("cp1251", "Это тестовый документ на русском языке для проверки определения кодировки текста."),
        ("cp1252", "Le café du coin sert un thé très élégant, à côté de la gare. Voilà où nous déjeunons."),
    ],
)
async def test_the_encoding_is_detected(encoding: str, text: str) -> None:
    assert await text_of(text.encode(encoding), "legacy.txt") == text


async def test_undetectable_bytes_fall_back_to_utf8_with_replacements() -> None:
    text = await text_of(b"ok \xff\xfe\x00\x81", "odd.txt")
    assert isinstance(text, str)
    assert text.startswith("ok")


async def test_html_gives_the_visible_text() -> None:
    html = """<!doctype html>
    <html><head><title>The  title</title><style>p { color: red }</style>
    <script>var hidden = "<p>not text</p>";</script></head>
    <body>
      <h1>Heading &amp; more</h1>
      <p>First   paragraph,
         on two lines.<br>After a break.</p>
      <ul><li>one</li><li>two</li></ul>
      <table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>31</td></tr></table>
      <pre>def f():
    return 1</pre>
      <p>caf&eacute; &#8212; &lt;tag&gt;</p>
    </body></html>"""
    assert await text_of(html.encode(), "page.html", "text/html") == (
        "The title\n\nHeading & more\n\nFirst paragraph, on two lines.\nAfter a break.\n\none\ntwo\n\n"
        "Name Age\nAnn 31\n\ndef f():\n    return 1\n\ncafé — <tag>"
    )


async def test_csv_becomes_a_markdown_table() -> None:
    data = 'name,city,note\nAnn,"Paris, France","says ""hi"""\nBob,Oslo,a|b\n\nCy,"two\nlines"\n'
    assert await text_of(data.encode(), "people.csv", "text/csv") == (
        "| name | city | note |\n"
        "| --- | --- | --- |\n"
        '| Ann | Paris, France | says "hi" |\n'
        "| Bob | Oslo | a\\|b |\n"
        "| Cy | two<br>lines |  |"
    )


async def test_csv_with_semicolons_and_a_legacy_encoding() -> None:
    data = "produit;prix\ncafé;2,50\nthé;3,00\n".encode("cp1252")
    assert await text_of(data, "prix.csv") == ("| produit | prix |\n| --- | --- |\n| café | 2,50 |\n| thé | 3,00 |")


async def test_json_is_pretty_printed() -> None:
    text = await text_of(b'{"b":[1,2,{"c":null}],"a":"\\u00e9t\\u00e9"}', "data.json", "application/json")
    assert text == '{\n  "b": [\n    1,\n    2,\n    {\n      "c": null\n    }\n  ],\n  "a": "été"\n}'


async def test_yaml_is_read_and_normalised() -> None:
    data = "# a comment\nname: Zoë\nitems: [1, 2]\nnested: {a: true}\n---\nsecond: doc\n"
    assert await text_of(data.encode(), "config.yaml") == (
        "name: Zoë\nitems:\n- 1\n- 2\nnested:\n  a: true\n---\nsecond: doc"
    )


async def test_pdf_text_page_after_page() -> None:
    pdf = make_pdf([["Quarterly report", "Revenue grew (a lot)."], ["Page two", "The end."]])
    assert await text_of(pdf, "report.pdf", "application/pdf") == (
        "Quarterly report\nRevenue grew (a lot).\n\nPage two\nThe end."
    )


async def test_docx_paragraphs_and_tables_in_order() -> None:
    data = make_docx(
        "Introduction",
        [["Name", "Role"], ["Ann", "Lead | Dev"], ["Bob", ""]],
        "Between the tables",
        [["k", "v"]],
        "Conclusion",
    )
    assert await text_of(data, "memo.docx", DOCX) == (
        "Introduction\n\n"
        "| Name | Role |\n| --- | --- |\n| Ann | Lead \\| Dev |\n| Bob |  |\n\n"
        "Between the tables\n\n"
        "| k | v |\n| --- | --- |\n\n"
        "Conclusion"
    )


async def test_xlsx_sheets_become_markdown_tables() -> None:
    """Every sheet under its name (Dify leaves the name out; it tells an LLM which table it reads)."""
    data = make_xlsx({"Q1": [["Region", "Sales"], ["North", 1200.5], [None, None], ["South", 900]], "Q2": []})
    expected = "## Q1\n\n| Region | Sales |\n| --- | --- |\n| North | 1200.5 |\n| South | 900 |"
    assert await text_of(data, "sales.xlsx", XLSX) == expected
    # by its MIME type alone
    assert await text_of(data, "upload", XLSX, extension="") == expected


@pytest.mark.parametrize(
    ("filename", "fields", "expected"),
    [
        ("report", {"mime_type": "application/pdf"}, "PDF by MIME type"),
        ("data.bin", {"mime_type": "application/pdf"}, "PDF by MIME type"),
        ("upload", {"extension": "pdf", "mime_type": ""}, "PDF by MIME type"),
        ("upload", {"extension": ".PDF", "mime_type": ""}, "PDF by MIME type"),
    ],
)
async def test_the_type_comes_from_the_extension_else_the_mime_type(
    filename: str, fields: dict[str, Any], expected: str
) -> None:
    value = document(make_pdf([[expected]]), filename, **fields)
    if "extension" not in fields:
        value["extension"] = ""
    assert (await run(value)).outputs["text"] == expected


# -- a file or an array of files ----------------------------------------------------------------


async def test_an_array_of_files_gives_an_array_of_texts() -> None:
    files = [
        document(b"plain", "a.txt"),
        document(make_pdf([["from pdf"]]), "b.pdf"),
        document(make_docx("from docx"), "c.docx"),
    ]
    result = await run(files, data=config("start", "file", is_array_file=True))
    assert result.outputs == {"text": ["plain", "from pdf", "from docx"]}
    assert (await run([], data=config("start", "file", is_array_file=True))).outputs == {"text": []}


async def test_the_corpus_shape_reading_sys_files() -> None:
    """audit-opinion-handling.yml: ``variable_selector: [sys, files]`` with ``is_array_file: true``."""
    node = DocumentExtractorNodeType(guard=guard()).prepare("1", config("sys", "files", is_array_file=True))
    assert node.selectors() == [("sys", "files")]
    rt = WireRuntime("1", {("sys", "files"): [document(b"uploaded", "u.md")]})
    assert (await node.run(rt)).outputs == {"text": ["uploaded"]}


async def test_a_value_that_is_not_a_file_is_an_error() -> None:
    with pytest.raises(DocumentExtractorError, match=r"start\.file is not a file or an array of files: str"):
        await run("just text")
    with pytest.raises(DocumentExtractorError, match=r"start\.file\[1\] is not a file"):
        await run([document(b"x", "x.txt"), {"name": "nope"}])


def test_the_selector_is_required() -> None:
    with pytest.raises(NodeConfigError) as caught:
        DocumentExtractorNodeType(guard=guard()).prepare("doc", {"type": "document-extractor"})
    assert caught.value.path == "variable_selector"
    with pytest.raises(NodeConfigError, match="needs a variable selector"):
        DocumentExtractorNodeType(guard=guard()).prepare("doc", config("start"))


# -- what it cannot read ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "mime_type", "message"),
    [
        ("slides.pptx", "application/vnd.ms-powerpoint", r"unsupported file type \.pptx \(file slides\.pptx\)"),
        ("photo.png", "image/png", r"unsupported file type \.png \(file photo\.png\)"),
        ("song.mp3", "audio/mpeg", r"unsupported file type \.mp3"),
        ("archive", "application/zip", r"unsupported file type application/zip \(file archive\)"),
    ],
)
async def test_unsupported_types_are_named(filename: str, mime_type: str, message: str) -> None:
    with pytest.raises(UnsupportedFileTypeError, match=message) as caught:
        await text_of(
            b"\x00\x01", filename, mime_type, extension="." + filename.rpartition(".")[2] if "." in filename else ""
        )
    assert ".docx, .htm, .html, .json" in caught.value.message
    assert caught.value.error_type == "UnsupportedFileTypeError"


async def test_a_file_of_unknown_type_is_named() -> None:
    value = document(b"?", "", "")
    value.update(extension="", mime_type="")
    with pytest.raises(UnsupportedFileTypeError, match="it has no extension and no MIME type"):
        await run(value)


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"not a pdf at all", "broken.pdf", r"cannot read broken\.pdf as PDF"),
        (b"PK\x03\x04 not a zip", "broken.docx", r"cannot read broken\.docx as DOCX"),
        (b'{"a": ', "broken.json", r"cannot read broken\.json as JSON"),
        (b"a: [1, 2\nb: }", "broken.yaml", r"cannot read broken\.yaml as YAML"),
        (b"PK\x03\x04 not a zip", "broken.xlsx", r"cannot read broken\.xlsx as XLSX: not an Excel workbook"),
    ],
)
async def test_content_that_is_not_its_format_is_an_extraction_error(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(TextExtractionError, match=message) as caught:
        await text_of(data, filename)
    assert caught.value.error_type == "TextExtractionError"


async def test_files_over_the_limit_are_refused() -> None:
    nodes = DocumentExtractorNodeType(guard=guard(), max_file_bytes=1000)
    assert (await run(document(b"a" * 1000, "ok.txt"), nodes=nodes)).outputs["text"] == "a" * 1000
    with pytest.raises(FileReadError, match=r"cannot read file big\.txt: it is 1001 bytes, more than the 1000 bytes"):
        await run(document(b"a" * 1001, "big.txt"), nodes=nodes)


async def test_a_stored_file_needs_the_runs_way_back_into_the_kernel() -> None:
    stored = {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "local_file",
        "related_id": "5a0e",
        "filename": "contract.pdf",
        "extension": ".pdf",
        "mime_type": "application/pdf",
    }
    # Read through the kernel (tests/files/test_reading.py); a runtime without one says so.
    with pytest.raises(FileReadError, match=r"cannot read file contract\.pdf: it is kept in the kernel's storage"):
        await run(stored)


# -- files by URL, through the SSRF guard -------------------------------------------------------


def remote(url: str, filename: str, mime_type: str) -> dict[str, Any]:
    return {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "remote_url",
        "remote_url": url,
        "filename": filename,
        "extension": "." + filename.rsplit(".", 1)[1],
        "mime_type": mime_type,
    }


async def test_a_remote_file_is_downloaded_through_the_guard(server: LocalServer) -> None:
    url = server.serve("/files/memo.docx", make_docx("Downloaded memo"), {"Content-Type": DOCX})
    network = RecordingNetwork()
    result = await run(remote(url, "memo.docx", DOCX), nodes=DocumentExtractorNodeType(guard=guard(network=network)))
    assert result.outputs["text"] == "Downloaded memo"
    assert network.connects == [("127.0.0.1", server.port)]


async def test_a_failed_download_is_a_file_error(server: LocalServer) -> None:
    with pytest.raises(FileReadError, match=r"cannot read file gone\.txt: GET .*/missing\.txt answered 404"):
        await run(remote(server.url("/missing.txt"), "gone.txt", "text/plain"))


async def test_a_private_file_url_is_refused_before_connecting() -> None:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["10.0.0.1"]

    network = RecordingNetwork()
    nodes = DocumentExtractorNodeType(guard=guard(allow=(), resolver=resolve, network=network))
    with pytest.raises(FileReadError) as caught:
        await run(remote("http://files.internal/secret.txt", "secret.txt", "text/plain"), nodes=nodes)
    assert caught.value.message == (
        "cannot read file secret.txt: refused: 10.0.0.1 (resolved from files.internal) is a private address"
    )
    assert network.connects == []


async def test_a_metadata_url_is_refused() -> None:
    network = RecordingNetwork()
    nodes = DocumentExtractorNodeType(guard=guard(network=network))
    with pytest.raises(FileReadError, match=r"refused: 169\.254\.169\.254 is a cloud metadata address"):
        await run(remote("http://169.254.169.254/latest/user-data.txt", "user-data.txt", "text/plain"), nodes=nodes)
    assert network.connects == []


# -- through the plugin contract ----------------------------------------------------------------


async def test_the_registered_node_runs_through_the_plugin_contract() -> None:
    payload = {
        "node_id": "doc",
        "config": config("start", "file"),
        "variables": [[["start", "file"], document(make_pdf([["over the wire"]]), "w.pdf")]],
    }
    [event] = await ainvoke(treadle_doc_extractor, "node_type", "document-extractor", "run", payload)
    assert (event.type, event.outputs) == ("result", {"text": "over the wire"})
    payload["variables"] = [[["start", "file"], document(b"x", "x.pptx")]]
    with pytest.raises(PluginFailed, match=r"unsupported file type \.pptx") as caught:
        await ainvoke(treadle_doc_extractor, "node_type", "document-extractor", "run", payload)
    assert caught.value.details == {"error_type": "UnsupportedFileTypeError"}
    assert json.dumps(event.outputs)  # plain JSON on the wire
