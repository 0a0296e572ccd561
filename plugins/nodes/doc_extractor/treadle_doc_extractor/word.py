"""The text of a Word (.docx) document: paragraphs and tables in document order, tables as Markdown."""

from __future__ import annotations

import io
import zipfile

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table

from .tables import markdown_table

__all__ = ["docx_to_text"]


def _rows(table: Table) -> list[list[str]]:
    # A merged cell appears in each row and column it spans; its text is repeated there.
    return [[cell.text for cell in row.cells] for row in table.rows]


def docx_to_text(data: bytes) -> str:
    """Paragraphs one per line and tables as Markdown, in the order the document has them; raises
    :class:`ValueError` for a file that is not a .docx document."""
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"not a Word document ({exc})") from None
    blocks = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks.append("\n" + markdown_table(_rows(block)) + "\n")
        else:
            blocks.append(block.text)
    return "\n".join(blocks).strip()
