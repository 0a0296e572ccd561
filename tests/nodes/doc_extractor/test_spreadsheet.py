"""Excel workbooks (.xlsx) to text (NODE-DOC-EXTRACTOR "XLS, XLSX, CSV: turned into Markdown tables"):
every sheet under its name, empty rows and columns dropped, cells as a spreadsheet shows them."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest
from treadle_doc_extractor.spreadsheet import cell_text, xlsx_to_text

from .documents import make_docx, make_xlsx


def test_every_sheet_is_a_markdown_table_under_its_name() -> None:
    data = make_xlsx(
        {
            "Staff": [["Name", "Team"], ["Ann", "Core"], ["Bob", "Web | API"]],
            "Budget 2024": [["Item", "Cost"], ["Laptops", 12000]],
        }
    )
    assert xlsx_to_text(data) == (
        "## Staff\n\n"
        "| Name | Team |\n| --- | --- |\n| Ann | Core |\n| Bob | Web \\| API |\n\n"
        "## Budget 2024\n\n"
        "| Item | Cost |\n| --- | --- |\n| Laptops | 12000 |"
    )


def test_empty_rows_columns_and_sheets_are_left_out() -> None:
    data = make_xlsx(
        {
            "Empty": [],
            "Sparse": [
                [None, None, None, None],
                [None, "Key", None, "Value"],
                [None, None, None, None],
                [None, "a", None, "1"],
                [None, "  ", None, None],
                [None, "b", None, None],
            ],
            "Blank": [[None, ""], ["", None]],
        }
    )
    assert xlsx_to_text(data) == "## Sparse\n\n| Key | Value |\n| --- | --- |\n| a | 1 |\n| b |  |"


def test_a_workbook_with_nothing_in_it_gives_no_text() -> None:
    assert xlsx_to_text(make_xlsx({"Sheet1": []})) == ""


def test_numbers_dates_and_booleans_read_as_a_spreadsheet_shows_them() -> None:
    data = make_xlsx(
        {
            "Values": [
                ["int", "float", "sum", "whole float", "date", "datetime", "time", "bool", "text"],
                [42, 2.5, 0.1 + 0.2, 3.0, date(2024, 2, 29), datetime(2024, 3, 1, 13, 45), time(8, 30), True, "é"],
            ]
        }
    )
    header, _rule, row = xlsx_to_text(data).split("\n\n", 1)[1].split("\n")
    assert header == "| int | float | sum | whole float | date | datetime | time | bool | text |"
    assert row == "| 42 | 2.5 | 0.3 | 3 | 2024-02-29 | 2024-03-01 13:45:00 | 08:30:00 | TRUE | é |"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (False, "FALSE"),
        (7, "7"),
        (-0.5, "-0.5"),
        (1e20, "1e+20"),
        (1 / 3, "0.333333333333333"),
        (datetime(2024, 1, 2, 3, 4, 5, 600000), "2024-01-02 03:04:05.600000"),
        (datetime(2024, 1, 2), "2024-01-02"),
        ("#DIV/0!", "#DIV/0!"),
    ],
)
def test_cell_text(value: Any, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"plain text, not a zip", "not an Excel workbook"),
        (b"PK\x03\x04 a broken zip", "not an Excel workbook"),
        (make_docx("a Word document is a zip, not a workbook"), "not an Excel workbook"),
    ],
)
def test_what_is_not_a_workbook_is_a_value_error(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        xlsx_to_text(data)
