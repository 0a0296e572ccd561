"""Readable text out of a web page: its title and other metadata, its main text, and its links.

The page is parsed with Beautiful Soup (Python's own HTML parser underneath). The main text is found
the way reader modes do it, in small: scripts, styles, forms, navigation and other page furniture go,
then the text comes from the page's ``<article>``, else its ``<main>``, else the element whose
paragraphs hold the most text, else the whole body. Headings keep Markdown ``#`` marks, list items a
``- `` bullet, table rows their cells joined by ``|``; paragraphs are separated by a blank line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from bs4 import BeautifulSoup, Tag
from bs4.element import CData, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction

__all__ = ["Page", "extract_html", "extract_text", "page_summary"]

# Elements that never hold the text a reader wants.
_DROP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "canvas",
        "iframe",
        "object",
        "embed",
        "form",
        "button",
        "input",
        "select",
        "textarea",
        "nav",
        "aside",
        "footer",
        "dialog",
        "menu",
        "head",
    }
)
_SKIPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "dialog"})
# Class and id words of page furniture; a token matches as a whole or as its first part ("share-bar").
_FURNITURE = frozenset(
    {
        "cookie",
        "cookies",
        "consent",
        "banner",
        "advert",
        "advertisement",
        "ads",
        "ad",
        "sponsored",
        "promo",
        "share",
        "sharing",
        "social",
        "newsletter",
        "subscribe",
        "popup",
        "modal",
        "sidebar",
        "breadcrumb",
        "breadcrumbs",
        "related",
        "comments",
        "comment",
        "footer",
        "nav",
        "navbar",
        "menu",
        "skip",
    }
)
_TOKEN_PARTS = re.compile(r"[-_]")
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "blockquote",
        "figure",
        "figcaption",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "address",
        "details",
        "summary",
        "hr",
        "center",
        "caption",
        "body",
        "html",
    }
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SPACES = re.compile(r"\s+")
_NOT_TEXT = (Comment, CData, ProcessingInstruction, Declaration, Doctype)
#: A root with less text than this is not taken as the page's main text.
_MIN_MAIN_TEXT = 200


@dataclass
class Page:
    """What a page says: its metadata, main text and links (absolute http(s) URLs, no fragments)."""

    title: str = ""
    author: str = ""
    published: str = ""
    description: str = ""
    image: str = ""
    language: str = ""
    text: str = ""
    links: list[dict[str, str]] = field(default_factory=list)


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _meta(soup: BeautifulSoup, *keys: str) -> str:
    """The content of the first ``<meta>`` whose name or property is one of ``keys``."""
    for key in keys:
        for attribute in ("property", "name", "itemprop"):
            tag = soup.find("meta", attrs={attribute: key})
            if isinstance(tag, Tag):
                content = tag.get("content")
                if isinstance(content, str) and content.strip():
                    return _clean(content)
    return ""


def _attribute(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if isinstance(value, list):
        return " ".join(value)
    return value or ""


def _absolute(base: str, href: str) -> str | None:
    try:
        joined = urljoin(base, href.strip())
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit(parts._replace(fragment=""))


def _links(soup: BeautifulSoup, base: str, limit: int) -> list[dict[str, str]]:
    seen: set[str] = set()
    links: list[dict[str, str]] = []
    for anchor in soup.find_all("a", href=True):
        if len(links) >= limit:
            break
        url = _absolute(base, _attribute(anchor, "href"))
        if url is None or url in seen:
            continue
        seen.add(url)
        links.append({"text": _clean(anchor.get_text(" "))[:200], "url": url})
    return links


def _is_furniture(tag: Tag) -> bool:
    if tag.name in _DROP or _attribute(tag, "role").lower() in _SKIPPED_ROLES:
        return True
    if tag.has_attr("hidden") or _attribute(tag, "aria-hidden").lower() == "true":
        return True
    style = _attribute(tag, "style").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    tokens = (_attribute(tag, "class") + " " + _attribute(tag, "id")).lower().split()
    return any(token in _FURNITURE or _TOKEN_PARTS.split(token, 1)[0] in _FURNITURE for token in tokens)


def _text_length(tag: Tag) -> int:
    return len(_clean(tag.get_text(" ")))


def _remove_furniture(root: Tag) -> None:
    """Drop page furniture under ``root``; an element holding most of the root's text is kept, so a
    misleading class name cannot take the content with it."""
    total = max(_text_length(root), 1)
    for tag in list(root.find_all(True)):
        if tag.decomposed or not _is_furniture(tag):
            continue
        if tag.name not in _DROP and _text_length(tag) > total / 2:
            continue
        tag.decompose()


def _main(soup: BeautifulSoup) -> Tag:
    body = soup.body or soup
    articles = [tag for tag in body.find_all("article") if isinstance(tag, Tag)]
    if articles:
        best = max(articles, key=_text_length)
        if _text_length(best) >= _MIN_MAIN_TEXT or len(articles) == 1:
            return best
    main = body.find("main") or body.find(True, attrs={"role": "main"})
    if isinstance(main, Tag) and _text_length(main) >= _MIN_MAIN_TEXT:
        return main
    scores: dict[int, tuple[Tag, int]] = {}
    for paragraph in body.find_all("p"):
        parent = paragraph.parent
        if isinstance(parent, Tag):
            tag, score = scores.get(id(parent), (parent, 0))
            scores[id(parent)] = (tag, score + _text_length(paragraph))
    if scores:
        tag, score = max(scores.values(), key=lambda item: item[1])
        if score >= _MIN_MAIN_TEXT:
            return tag
    return body if isinstance(body, Tag) else soup


class _Writer:
    """Collects text blocks while the tree is walked."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._line: list[str] = []
        self._prefix = ""

    def inline(self, text: str) -> None:
        self._line.append(text)

    def flush(self) -> None:
        text = _clean("".join(self._line))
        if text:
            self.blocks.append(self._prefix + text)
            self._prefix = ""
        self._line = []

    def block(self, text: str) -> None:
        self.flush()
        if text:
            self.blocks.append(text)

    def bullet(self) -> None:
        self.flush()
        self._prefix = "- "


def _walk(node: Tag, out: _Writer) -> None:
    for child in node.children:
        if isinstance(child, _NOT_TEXT):
            continue
        if isinstance(child, NavigableString):
            out.inline(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in _DROP:
            continue
        if name == "br":
            out.flush()
        elif name in _HEADINGS:
            heading = _clean(child.get_text(" "))
            out.block(f"{'#' * _HEADINGS[name]} {heading}" if heading else "")
        elif name == "pre":
            out.block(child.get_text().strip("\n"))
        elif name == "tr":
            cells = [_clean(cell.get_text(" ")) for cell in child.find_all(["td", "th"], recursive=False)]
            out.block(" | ".join(cell for cell in cells if cell))
        elif name == "li":
            out.bullet()
            _walk(child, out)
            out.flush()
        elif name == "img":
            continue
        elif name in _BLOCKS:
            out.flush()
            _walk(child, out)
            out.flush()
        else:
            _walk(child, out)


def extract_html(markup: bytes | str, base_url: str, *, charset: str | None = None, max_links: int = 200) -> Page:
    """Read an HTML page fetched from ``base_url`` (links are made absolute against it, or against
    the page's ``<base href>``). ``charset`` is the one the server declared, if any; without it the
    page's own ``<meta charset>`` (or a guess) decides."""
    soup = BeautifulSoup(markup, "html.parser", from_encoding=charset if isinstance(markup, bytes) else None)
    base_tag = soup.find("base", href=True)
    base = _absolute(base_url, _attribute(base_tag, "href")) if isinstance(base_tag, Tag) else None
    base = base or base_url
    title_tag = soup.find("title")
    first_heading = soup.find("h1")
    page = Page(
        title=_meta(soup, "og:title", "twitter:title")
        or (_clean(title_tag.get_text(" ")) if isinstance(title_tag, Tag) else "")
        or (_clean(first_heading.get_text(" ")) if isinstance(first_heading, Tag) else ""),
        author=_meta(soup, "author", "article:author", "byl", "dc.creator"),
        published=_meta(soup, "article:published_time", "datePublished", "date", "pubdate", "dc.date.issued"),
        description=_meta(soup, "description", "og:description", "twitter:description"),
        language=_attribute(soup.html, "lang") if isinstance(soup.html, Tag) else "",
        links=_links(soup, base, max_links),
    )
    image = _meta(soup, "og:image", "twitter:image")
    page.image = (_absolute(base, image) or "") if image else ""
    if not page.published:
        time_tag = soup.find("time", datetime=True)
        page.published = _attribute(time_tag, "datetime") if isinstance(time_tag, Tag) else ""
    for tag in list(soup.find_all(True)):
        if not tag.decomposed and (tag.name in _DROP or _attribute(tag, "role").lower() in _SKIPPED_ROLES):
            tag.decompose()
    root = _main(soup)
    _remove_furniture(root)
    out = _Writer()
    _walk(root, out)
    out.flush()
    page.text = "\n\n".join(out.blocks)
    return page


def extract_text(body: bytes, charset: str | None) -> Page:
    """A page that is text already (plain text, Markdown, JSON, XML ...): its text, decoded."""
    try:
        text = body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    return Page(text=text.strip())


def page_summary(page: Page) -> dict[str, Any]:
    """The page as the json output shows it."""
    return {
        "title": page.title,
        "author": page.author,
        "published": page.published,
        "description": page.description,
        "image": page.image,
        "language": page.language,
        "text": page.text,
        "links": page.links,
    }
