"""Bytes of a file of a known format to its text (NODE-DOC-EXTRACTOR)."""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from .decoding import decode_text
from .formats import Format
from .markup import html_to_text
from .pdf import pdf_to_text
from .spreadsheet import xlsx_to_text
from .tables import csv_to_markdown
from .word import docx_to_text

__all__ = ["extract_text"]


def _json(data: bytes) -> str:
    # Re-indented, so that minified JSON reads as well as the rest.
    return json.dumps(json.loads(decode_text(data)), indent=2, ensure_ascii=False)


def _yaml(data: bytes) -> str:
    documents = list(yaml.safe_load_all(decode_text(data)))
    return str(yaml.safe_dump_all(documents, allow_unicode=True, sort_keys=False)).strip()


_READERS: dict[Format, Callable[[bytes], str]] = {
    Format.TEXT: decode_text,
    Format.MARKDOWN: decode_text,
    Format.HTML: lambda data: html_to_text(decode_text(data)),
    Format.CSV: lambda data: csv_to_markdown(decode_text(data)),
    Format.JSON: _json,
    Format.YAML: _yaml,
    Format.PDF: pdf_to_text,
    Format.DOCX: docx_to_text,
    Format.XLSX: xlsx_to_text,
}


def extract_text(data: bytes, kind: Format, *, html_headings: bool = False) -> str:
    """The text of ``data`` read as ``kind``; raises :class:`ValueError` (JSON, YAML, PDF, Word
    and Excel errors included) when the content is not that format.

    ``html_headings`` writes the headings of HTML as Markdown headings (``# Title``).
    """
    try:
        if kind is Format.HTML and html_headings:
            return html_to_text(decode_text(data), headings=True)
        return _READERS[kind](data)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
