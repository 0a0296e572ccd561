"""Speech that is really text: the fake TTS model's WAV files, and reading them back.

The fake ``tts`` model writes a valid RIFF/WAVE file (PCM, mono, 8 kHz, 8-bit) whose samples are the
UTF-8 bytes of the text, with the software tag (``LIST``/``INFO``/``ISFT``) set to :data:`SOFTWARE`
and the voice in the artist tag (``IART``). It plays as a short burst of noise. The fake
``speech2text`` model recognises such files and reads the text back exactly; any other audio gets a
description naming its size and a hash, so the transcript is still deterministic.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator

__all__ = ["SAMPLE_RATE", "SOFTWARE", "describe", "read_text", "wav_pieces"]

#: The ``ISFT`` tag that marks our own files.
SOFTWARE = "treadle-fake-tts"
SAMPLE_RATE = 8000


def _chunk(tag: bytes, body: bytes) -> bytes:
    # RIFF chunks are word-aligned: an odd-sized body gets a pad byte that its size leaves out.
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _zstring(text: str) -> bytes:
    return text.encode("utf-8") + b"\0"


def _header(data_size: int, voice: str) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8)  # PCM, mono, 8 kHz, 1 byte/sample
    info = b"INFO" + _chunk(b"ISFT", _zstring(SOFTWARE)) + _chunk(b"IART", _zstring(voice))
    chunks = _chunk(b"fmt ", fmt) + _chunk(b"LIST", info)
    pad = data_size % 2
    riff_size = 4 + len(chunks) + 8 + data_size + pad
    return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + chunks + b"data" + struct.pack("<I", data_size)


def wav_pieces(pieces: list[str], voice: str) -> Iterator[bytes]:
    """The WAV file of the text ``"".join(pieces)``: first its header, then one piece of samples for
    each text piece (so the audio streams as the text does)."""
    encoded = [piece.encode("utf-8", "surrogatepass") for piece in pieces]
    size = sum(len(piece) for piece in encoded)
    yield _header(size, voice)
    for i, piece in enumerate(encoded):
        last = i == len(encoded) - 1
        yield piece + (b"\0" if last and size % 2 else b"")


def _chunks(data: bytes) -> dict[bytes, bytes] | None:
    """The top-level chunks of a RIFF/WAVE file by tag, or None if ``data`` is not one."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    found: dict[bytes, bytes] = {}
    at = 12
    while at + 8 <= len(data):
        tag = data[at : at + 4]
        (size,) = struct.unpack("<I", data[at + 4 : at + 8])
        body = data[at + 8 : at + 8 + size]
        if len(body) < size:
            return None
        found.setdefault(tag, body)
        at += 8 + size + size % 2
    return found


def _info_tag(info: bytes, wanted: bytes) -> bytes | None:
    if info[:4] != b"INFO":
        return None
    at = 4
    while at + 8 <= len(info):
        tag = info[at : at + 4]
        (size,) = struct.unpack("<I", info[at + 4 : at + 8])
        if tag == wanted:
            return info[at + 8 : at + 8 + size].rstrip(b"\0")
        at += 8 + size + size % 2
    return None


def read_text(data: bytes) -> str | None:
    """The text of a WAV file the fake TTS model made, or None for any other audio."""
    chunks = _chunks(data)
    if chunks is None or b"data" not in chunks or b"LIST" not in chunks:
        return None
    if _info_tag(chunks[b"LIST"], b"ISFT") != SOFTWARE.encode():
        return None
    try:
        return chunks[b"data"].decode("utf-8")
    except UnicodeDecodeError:
        return None


def describe(data: bytes) -> str:
    """What the fake speech2text model hears in audio it did not make: its size and a hash."""
    return f"[audio: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}]"
