"""Bytes to text: UTF-8 when they are UTF-8, else the encoding charset-normalizer finds, else UTF-8
with the undecodable bytes replaced (NODE-DOC-EXTRACTOR: detection with a UTF-8 fallback)."""

from __future__ import annotations

import codecs

import charset_normalizer

__all__ = ["decode_text"]

# Classic Mac OS code pages win too many guesses on short Western European texts (a cp1252 "café"
# read as mac_latin2 "cafť"), and files in them have become rare: they are not considered.
_UNLIKELY = ["mac_latin2", "mac_roman", "mac_cyrillic", "mac_greek", "mac_iceland", "mac_turkish"]


def decode_text(data: bytes) -> str:
    """``data`` as text. A byte-order mark decides; valid UTF-8 is taken as UTF-8 (detection is only
    a guess, and most text is UTF-8); anything else is detected."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(data, cp_exclusion=_UNLIKELY).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")
