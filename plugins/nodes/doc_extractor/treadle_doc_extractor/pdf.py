"""The text of a PDF, page after page, with PDFium (text PDFs only: scanned pages have no text)."""

from __future__ import annotations

import threading

import pypdfium2  # type: ignore[import-untyped]  # ships no type information

__all__ = ["pdf_to_text"]

# PDFium is not thread-safe, and a plugin host runs extractions on worker threads.
_PDFIUM = threading.Lock()


def pdf_to_text(data: bytes) -> str:
    """The text of every page, pages separated by a blank line; raises :class:`ValueError` for a
    file that is not a PDF PDFium can open."""
    with _PDFIUM:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise ValueError(str(exc)) from None
        try:
            pages = []
            for index in range(len(document)):
                page = document[index]
                try:
                    text_page = page.get_textpage()
                    try:
                        pages.append(str(text_page.get_text_range()))
                    finally:
                        text_page.close()
                finally:
                    page.close()
        finally:
            document.close()
    text = "\n\n".join(page.replace("\r\n", "\n").replace("\r", "\n").strip() for page in pages)
    return text.strip()
