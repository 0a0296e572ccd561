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


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
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


def html_to_text(html: str) -> str:
    """The visible text of ``html``: a line per block element, spaces collapsed outside ``<pre>``,
    entities decoded, scripts and styles left out."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = [line.strip() for line in "".join(collector.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text.replace(_PRE_BREAK, "\n")
