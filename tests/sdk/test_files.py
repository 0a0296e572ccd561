"""File values made out of bytes (treadle_sdk.files, VAR-FILE-OBJECT)."""

from __future__ import annotations

import base64

import pytest
from treadle_sdk.files import FILE_IDENTITY, extension_of, file_type_of, file_value


def test_a_file_value_carries_its_bytes_in_a_data_url() -> None:
    value = file_value(b"%PDF-1.4", filename="Report.PDF", mime_type="application/pdf")
    assert value["dify_model_identity"] == FILE_IDENTITY
    assert (value["type"], value["transfer_method"], value["extension"], value["size"]) == (
        "document",
        "tool_file",
        ".pdf",
        8,
    )
    assert value["url"] == "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4").decode()


@pytest.mark.parametrize(
    ("filename", "mime_type", "extension", "kind"),
    [
        ("a.png", "image/png", ".png", "image"),
        ("song.mp3", "application/octet-stream", ".mp3", "audio"),
        ("clip", "video/mp4", ".mp4", "video"),
        ("notes.md", "text/markdown", ".md", "document"),
        ("blob", "application/x-unknown-kind", "", "custom"),
    ],
)
def test_the_type_follows_the_extension_then_the_mime_type(
    filename: str, mime_type: str, extension: str, kind: str
) -> None:
    assert extension_of(filename, mime_type) == extension
    assert file_type_of(extension, mime_type) == kind
