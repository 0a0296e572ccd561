"""The text of an Excel workbook (.xlsx): every sheet, in workbook order, as a Markdown table under
a heading with the sheet's name (NODE-DOC-EXTRACTOR: "XLS, XLSX, CSV: turned into Markdown tables")."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from .tables import markdown_table

__all__ = ["cell_text", "xlsx_to_text"]

# What a damaged workbook makes openpyxl raise: a bad zip, a missing part, XML that does not parse
# (ParseError is a SyntaxError), a value of the wrong shape.
_BROKEN = (zipfile.BadZipFile, InvalidFileException, KeyError, ParseError, ValueError, TypeError, OSError)


def cell_text(value: Any) -> str:
    """How a cell reads: numbers as Excel would show them without a number format (no ``.0`` on
    whole numbers, no binary noise such as ``0.30000000000000004``), dates as ISO dates (with the
    time only when there is one), booleans as ``TRUE`` and ``FALSE``, empty cells as ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.15g}"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _table(rows: Iterable[Sequence[Any]]) -> list[list[str]]:
    """The rows as text, empty rows left out and empty columns (empty in every row kept) dropped."""
    texts = [[cell_text(value) for value in row] for row in rows]
    texts = [row for row in texts if any(cell.strip() for cell in row)]
    width = max((len(row) for row in texts), default=0)
    used = [c for c in range(width) if any(c < len(row) and row[c].strip() for row in texts)]
    return [[row[c] if c < len(row) else "" for c in used] for row in texts]


def xlsx_to_text(data: bytes) -> str:
    """Each sheet that has content, as ``## <sheet name>`` and a Markdown table whose header is the
    sheet's first non-empty row; raises :class:`ValueError` for a file that is not a workbook.

    Formulas give the value Excel last computed and saved (a workbook never opened in a spreadsheet
    program, such as one written by a script, has none: those cells are empty).
    """
    try:
        # Read-only mode streams rows instead of building every cell object: large sheets fit.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _BROKEN as exc:
        raise ValueError(f"not an Excel workbook ({exc or type(exc).__name__})") from None
    try:
        sections = []
        for sheet in workbook.worksheets:
            try:
                rows = _table(sheet.iter_rows(values_only=True))
            except _BROKEN as exc:
                raise ValueError(f"sheet {sheet.title!r} cannot be read ({exc or type(exc).__name__})") from None
            if rows:
                sections.append(f"## {sheet.title}\n\n{markdown_table(rows)}")
    finally:
        workbook.close()
    return "\n\n".join(sections)
