"""Tables as Markdown, for CSV files and the tables of Word documents."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

__all__ = ["csv_to_markdown", "markdown_table"]


def _cell(text: str) -> str:
    # A pipe would end the cell and a line break the row.
    return text.strip().replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """``rows`` as a Markdown table, the first row as its header; short rows padded."""
    if not rows:
        return ""
    width = max(len(row) for row in rows) or 1
    lines = []
    for index, row in enumerate(rows):
        cells = [_cell(value) for value in row] + [""] * (width - len(row))
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + " --- |" * width)
    return "\n".join(lines)


def csv_to_markdown(text: str) -> str:
    """A CSV document as a Markdown table. The delimiter (comma, semicolon, tab or pipe) is sniffed
    from the start of the text; empty lines are left out."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), dialect) if any(cell.strip() for cell in row)]
    return markdown_table(rows)
