"""Text cleaning before chunking (KB-CLEANING).

Always: control characters (other than tab, newline and carriage return) and the byte-order
non-character go, and the special-token brackets ``<|`` / ``|>`` lose their bar, so a document
cannot smuggle a model's control tokens into a prompt. Then, by rule:

- ``remove_extra_spaces``: three or more newlines become two; any run of spaces, tabs, form feeds
  and special Unicode spaces becomes one space.
- ``remove_urls_emails``: e-mail addresses and URLs go; a Markdown image (``![alt](url)``) keeps its
  URL, since the image is the content. Full Doc parent-child chunking ignores this rule (its caller
  passes False).
"""

from __future__ import annotations

import re

__all__ = ["clean_text"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe]")
_NEWLINES = re.compile(r"\n{3,}")
# Space, tab, form feed, no-break space and the other Unicode space separators (not newlines).
_SPACES = re.compile(r"[ \t\f\u00a0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000]+")
_EMAIL = re.compile(r"[A-Za-z0-9_.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)\s]*\)")
_URL = re.compile(r"(?:https?|ftp)://[^\s<>()\[\]]+")


def clean_text(text: str, *, remove_extra_spaces: bool = False, remove_urls_emails: bool = False) -> str:
    """``text`` cleaned by the always-on rules and the ones asked for."""
    text = _CONTROL.sub("", text).replace("<|", "<").replace("|>", ">")
    if remove_extra_spaces:
        text = _NEWLINES.sub("\n\n", text)
        text = _SPACES.sub(" ", text)
    if remove_urls_emails:
        text = _EMAIL.sub("", text)
        images: list[str] = []

        def keep(match: re.Match[str]) -> str:
            images.append(match.group(0))
            return f"\x00{len(images) - 1}\x00"  # control characters are gone by now: a safe marker

        text = _MARKDOWN_IMAGE.sub(keep, text)
        text = _URL.sub("", text)
        text = re.sub(r"\x00(\d+)\x00", lambda match: images[int(match.group(1))], text)
    return text
