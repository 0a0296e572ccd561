"""The text of an HTML document: what a reader sees, without scripts, styles or markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg"})
# Blocks are set apart by a blank line; list items, rows and breaks start a new line.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "div", "dl", "figcaption", "figure", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section",
        "table", "title", "ul",
    }
)  # fmt: skip
_LINES = frozenset({"br", "dd", "dt", "li", "tr"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
# Line breaks inside <pre> survive the line clean-up below disguised as this private-use character.
_PRE_BREAK = "\ue000"
# A heading's level, as that many of these private-use characters at the start of its line, becomes
# Markdown's ``#`` marks once the line is clean.
_HEADING = "\ue001"
_HEADINGS = {f"h{level}": level for level in range(1, 7)}


class _TextCollector(HTMLParser):
    def __init__(self, *, headings: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.headings = headings
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        if tag == "pre":
            self._pre_depth += 1
        if tag in _BLOCKS:
            self.parts.append("\n\n")
            if self.headings and tag in _HEADINGS and not self._skip_depth:
                self.parts.append(_HEADING * _HEADINGS[tag])
        elif tag in _LINES:
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(self._skip_depth - 1, 0)
        if tag == "pre":
            self._pre_depth = max(self._pre_depth - 1, 0)
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            self.parts.append(data.replace("\r\n", "\n").replace("\n", _PRE_BREAK))
        else:
            self.parts.append(_SPACES.sub(" ", data.replace("\n", " ")))


def _heading(line: str) -> str:
    """A line that starts a heading, with Markdown's marks (an empty heading is left out)."""
    text = line.lstrip(_HEADING)
    level = len(line) - len(text)
    # A heading inside a heading would add marks in the middle of the line: they are dropped.
    text = text.replace(_HEADING, "").strip()
    return f"{'#' * level} {text}" if level and text else text


def html_to_text(html: str, *, headings: bool = False) -> str:
    """The visible text of ``html``: a line per block element, spaces collapsed outside ``<pre>``,
    entities decoded, scripts and styles left out. With ``headings``, ``<h1>`` to ``<h6>`` become
    Markdown headings (``# Title``, ``## Section``), for readers that cut text at its headings."""
    collector = _TextCollector(headings=headings)
    collector.feed(html)
    collector.close()
    lines = [line.strip() for line in "".join(collector.parts).split("\n")]
    if headings:
        lines = [_heading(line) for line in lines]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text.replace(_PRE_BREAK, "\n")
