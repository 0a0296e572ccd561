"""Reasoning in a model's answer: ``<think>...</think>`` blocks in its text, or reasoning the model
sends apart from its text (``reasoning_content``).

The LLM node's ``reasoning_format`` decides what its ``text`` holds (NODE-LLM "Enable Reasoning Tag
Separation"): ``tagged`` (Dify's default) keeps the blocks in the text, and reasoning sent apart is
put there as a ``<think>`` block of its own, as Dify's providers write it; ``separated`` takes them
out of the text, and out of what streams. Either way ``reasoning_content`` holds the reasoning.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ReasoningStream", "ThinkSplitter"]

_OPEN = "<think"
_CLOSE = "</think>"


def _held_back(buffer: str, tag: str) -> int:
    """How many characters at the end of ``buffer`` may be the start of ``tag``."""
    lowered = buffer.lower()
    for size in range(min(len(tag) - 1, len(buffer)), 0, -1):
        if tag.startswith(lowered[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Splits streamed text into answer text and ``<think>`` block text, even when a tag is split
    across pieces. Tags match without regard to case, and ``<think ...>`` may carry attributes."""

    def __init__(self) -> None:
        self._buffer = ""
        self._thinking = False

    def feed(self, piece: str) -> list[tuple[bool, str]]:
        """The parts of the text known so far: ``(in a think block, text)`` pairs, in order."""
        self._buffer += piece
        parts: list[tuple[bool, str]] = []
        while self._buffer:
            lowered = self._buffer.lower()
            if not self._thinking:
                start = lowered.find(_OPEN)
                if start < 0:
                    cut = len(self._buffer) - _held_back(self._buffer, _OPEN)
                    self._take(parts, False, cut, cut)
                    break
                end = self._buffer.find(">", start)
                if end < 0:
                    self._take(parts, False, start, start)
                    break
                self._take(parts, False, start, end + 1)
                self._thinking = True
            else:
                end = lowered.find(_CLOSE)
                if end < 0:
                    cut = len(self._buffer) - _held_back(self._buffer, _CLOSE)
                    self._take(parts, True, cut, cut)
                    break
                self._take(parts, True, end, end + len(_CLOSE))
                self._thinking = False
        return parts

    def flush(self) -> list[tuple[bool, str]]:
        """What is left at the end (an unclosed block counts as reasoning)."""
        rest, self._buffer = self._buffer, ""
        return [(self._thinking, rest)] if rest else []

    def _take(self, parts: list[tuple[bool, str]], thinking: bool, until: int, skip_to: int) -> None:
        if until > 0:
            parts.append((thinking, self._buffer[:until]))
        self._buffer = self._buffer[skip_to:]


class ReasoningStream:
    """Follows one model answer as it streams: passes the pieces of ``text`` to ``emit`` as the
    reasoning format wants them, and at the end gives the node's ``text`` and ``reasoning_content``.

    With ``separated``, leading whitespace and whitespace at the end are held back, so what streamed
    is exactly the ``text`` output.
    """

    def __init__(self, separated: bool, emit: Callable[[str], None]) -> None:
        self.separated = separated
        self._emit = emit
        self._splitter = ThinkSplitter()
        self._shown: list[str] = []
        self._blocks: list[str] = []
        self._in_block = False
        self._apart_open = False
        self._pending_space = ""

    # -- what the model sends -------------------------------------------------------------------

    def text(self, piece: str) -> None:
        """A piece of the model's text."""
        if self._apart_open:
            self._apart_open = False
            self._show_raw("\n</think>\n")
        if self.separated:
            for thinking, part in self._splitter.feed(piece):
                self._part(thinking, part)
        else:
            self._show_raw(piece)

    def reasoning(self, piece: str) -> None:
        """A piece of reasoning the model sent apart from its text."""
        if self.separated:
            self._part(True, piece)
            return
        if not self._apart_open:
            self._apart_open = True
            self._show_raw("<think>\n")
        self._show_raw(piece)

    def finish(self) -> tuple[str, str]:
        """The node's ``text`` and ``reasoning_content``."""
        if self._apart_open:
            self._apart_open = False
            self._show_raw("\n</think>\n")
        if self.separated:
            for thinking, part in self._splitter.flush():
                self._part(thinking, part)
        else:
            for thinking, part in self._splitter.flush():
                self._note(thinking, part)
        reasoning = "\n".join(block.strip() for block in self._blocks if block.strip())
        return "".join(self._shown), reasoning

    # -- internals ------------------------------------------------------------------------------

    def _show_raw(self, text: str) -> None:
        """Tagged: the text streams as it is; the splitter only finds the reasoning in it."""
        self._shown.append(text)
        self._emit(text)
        for thinking, part in self._splitter.feed(text):
            self._note(thinking, part)

    def _note(self, thinking: bool, part: str) -> None:
        if thinking:
            if not self._in_block:
                self._blocks.append("")
                self._in_block = True
            self._blocks[-1] += part
        else:
            self._in_block = False

    def _part(self, thinking: bool, part: str) -> None:
        self._note(thinking, part)
        if thinking:
            return
        combined = self._pending_space + part
        if not self._shown:
            combined = combined.lstrip()
        visible = combined.rstrip()
        self._pending_space = combined[len(visible) :]
        if visible:
            self._shown.append(visible)
            self._emit(visible)
