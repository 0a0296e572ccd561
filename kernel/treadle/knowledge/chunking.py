"""Chunking: general (KB-CHUNK-GENERAL) and parent-child (KB-CHUNK-PARENT-CHILD, :func:`split_parent_child`).

General chunking makes a document's text into chunks of at most ``max_length`` characters.

The text is split on the delimiter first, and the delimiter is removed ("CBACD" split on "A" gives
"CB" and "CD"). A piece that fits is a chunk as it is: pieces are not merged. A piece over the
limit is split again on the first of paragraph breaks, line breaks, sentence ends and spaces that
it contains, and at last between characters (force-split). The smaller parts are then packed back
into chunks of at most ``max_length``, each chunk starting with up to ``overlap`` characters of the
end of the one before it, so a sentence cut at a chunk's edge is whole in one of the two.

Lengths are in characters, as the product documentation gives them. The delimiter may be written
with escapes, as forms and the API send it (``\\n\\n`` for two newlines).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_DELIMITER",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_OVERLAP",
    "FULL_DOC_MAX_LENGTH",
    "ChunkingError",
    "ParentChunk",
    "split_general",
    "split_parent_child",
]

DEFAULT_DELIMITER = "\n\n"
DEFAULT_MAX_LENGTH = 1024
DEFAULT_OVERLAP = 50
#: Where a piece over the limit is split next, in order; "" is between characters.
_FALLBACKS: tuple[str, ...] = ("\n\n", "\n", "。", ". ", " ", "")
#: Full Doc keeps the first 10,000 tokens of a document as its one parent (KB-CHUNK-PARENT-CHILD). The
#: kernel has no tokenizer, so the limit is in characters: 40,000, about 10,000 tokens of English.
FULL_DOC_MAX_LENGTH = 40_000
_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\r": "\r"}


class ChunkingError(ValueError):
    """A chunking rule that cannot be applied; the message names the setting and its value."""


@dataclass(frozen=True)
class ParentChunk:
    """A parent chunk (what retrieval returns) and its child chunks (what the search matches)."""

    content: str
    children: tuple[str, ...]


def split_parent_child(
    text: str, *, parent_mode: Literal["paragraph", "full-doc"] = "paragraph", parent_delimiter: str = "\n\n",
    parent_max_length: int = 1024, child_delimiter: str = "\n", child_max_length: int = 512,
) -> list[ParentChunk]:  # fmt: skip
    """Parent-child chunking (KB-CHUNK-PARENT-CHILD): parents by ``parent_mode``, each split into
    children by the child rule. ``paragraph`` parents are general chunks of their own delimiter and
    length (no overlap); ``full-doc`` makes the whole text one parent, cut at
    :data:`FULL_DOC_MAX_LENGTH`. Children have no overlap either."""
    if parent_mode == "paragraph":
        parents = split_general(text, delimiter=parent_delimiter, max_length=parent_max_length, overlap=0)
    elif parent_mode == "full-doc":
        whole = text.strip()[:FULL_DOC_MAX_LENGTH].strip()
        parents = [whole] if whole else []
    else:
        raise ChunkingError(f"parent_mode must be 'paragraph' or 'full-doc', got {parent_mode!r}")
    return [
        ParentChunk(parent, tuple(split_general(parent, delimiter=child_delimiter, max_length=child_max_length,
                                                overlap=0)))
        for parent in parents
    ]  # fmt: skip


def split_general(
    text: str, *, delimiter: str = DEFAULT_DELIMITER, max_length: int = DEFAULT_MAX_LENGTH,
    overlap: int = DEFAULT_OVERLAP,
) -> list[str]:  # fmt: skip
    """The chunks of ``text``, in order, each stripped of surrounding whitespace; none empty."""
    if max_length < 1:
        raise ChunkingError(f"max_length must be at least 1 character, got {max_length}")
    if overlap < 0:
        raise ChunkingError(f"overlap must not be negative, got {overlap}")
    if overlap >= max_length:
        raise ChunkingError(f"overlap ({overlap}) must be less than max_length ({max_length})")
    for escaped, character in _ESCAPES.items():
        delimiter = delimiter.replace(escaped, character)
    chunks: list[str] = []
    for piece in text.split(delimiter) if delimiter else [text]:
        piece = piece.strip()
        if not piece:
            continue
        if len(piece) <= max_length:
            chunks.append(piece)
        else:
            chunks.extend(_split(piece, max_length, overlap, _FALLBACKS))
    return chunks


def _split(text: str, max_length: int, overlap: int, separators: Sequence[str]) -> list[str]:
    """``text`` (over the limit) split on the first of ``separators`` it contains, and packed."""
    index = next(i for i, separator in enumerate(separators) if separator == "" or separator in text)
    separator, rest = separators[index], separators[index + 1 :]
    # Each part keeps the separator that ends it: sentence ends are text, and spaces and line
    # breaks between the parts of a chunk stay as they were.
    parts = list(text) if separator == "" else [p for p in re.split(f"(?<={re.escape(separator)})", text) if p]
    chunks: list[str] = []
    fitting: list[str] = []
    for part in parts:
        if len(part.strip()) <= max_length:
            fitting.append(part)
            continue
        chunks.extend(_pack(fitting, max_length, overlap))
        fitting = []
        chunks.extend(_split(part.strip(), max_length, overlap, rest))
    chunks.extend(_pack(fitting, max_length, overlap))
    return chunks


def _pack(parts: list[str], max_length: int, overlap: int) -> list[str]:
    """``parts`` (each within the limit once stripped) put together into chunks of at most
    ``max_length`` once stripped; each chunk after the first begins with the last parts of the one
    before, up to ``overlap`` characters of them."""
    chunks: list[str] = []
    window: deque[str] = deque()
    size = 0  # len("".join(window))

    def stripped_with(part: str) -> int:
        """The length of the window and ``part`` once stripped (the window is not empty)."""
        lead = len(window[0]) - len(window[0].lstrip())
        return size + len(part.rstrip()) - lead

    for part in parts:
        if window and stripped_with(part) > max_length:
            chunk = "".join(window).strip()
            if chunk:
                chunks.append(chunk)
            # Keep the tail that fits the overlap and leaves room for this part.
            while window and (size > overlap or stripped_with(part) > max_length):
                size -= len(window.popleft())
        size += len(part)
        window.append(part)
    if window:
        chunk = "".join(window).strip()
        if chunk:
            chunks.append(chunk)
    return chunks
