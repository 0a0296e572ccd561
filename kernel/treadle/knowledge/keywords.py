"""Keywords of a chunk for Economical indexing (KB-INDEX-ECONOMICAL: 10 keywords per chunk).

No model: the words of the text by frequency, stop words left out. Latin-script words are
lower-cased; runs of CJK characters (which have no spaces between words) give their two-character
sequences, which is how most CJK words are written, and a lone CJK character counts as a word.
Ties keep the order in which words first appear, so the result is the same for the same text.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["STOP_WORDS", "extract_keywords"]

#: English stop words (and a few CJK particles): words that say nothing about a chunk.
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t don can't won't isn't aren't it's i'm you're we're
    they're that's there's let's via per etc""".split()
) | frozenset("的 了 是 在 和 与 或 也 就 都 而 及 着 个 之 这 那 有 为 对 以 于 中 等 の は が を に で と も".split())

# A Latin-script (or digit) word, apostrophes and hyphens inside it kept; or a run of CJK characters.
_WORD = re.compile("[^\\W_](?:[\\w'\u2019-]*[^\\W_])?")
_CJK_RUN = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+)")


def extract_keywords(text: str, limit: int = 10) -> list[str]:
    """At most ``limit`` keywords of ``text``, most frequent first."""
    if limit < 1:
        return []
    counts: Counter[str] = Counter()
    for match in _WORD.finditer(text):
        # CJK runs and the Latin parts between them, in the order they are written.
        for index, part in enumerate(_CJK_RUN.split(match.group(0))):
            if index % 2:
                _count_cjk(part, counts)
            else:
                _count_latin(part, counts)
    # Counter keeps insertion order, and most_common sorts stably: ties stay in order of appearance.
    return [word for word, _ in counts.most_common(limit)]


def _count_latin(part: str, counts: Counter[str]) -> None:
    word = part.strip("'\u2019-_").lower()
    if len(word) < 2 or word in STOP_WORDS or word.isdigit():
        return
    counts[word] += 1


def _count_cjk(run: str, counts: Counter[str]) -> None:
    if len(run) == 1:
        if run not in STOP_WORDS:
            counts[run] += 1
        return
    for start in range(len(run) - 1):
        pair = run[start : start + 2]
        if pair[0] in STOP_WORDS or pair[1] in STOP_WORDS:
            continue
        counts[pair] += 1
