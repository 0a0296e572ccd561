"""General chunking (KB-CHUNK-GENERAL) and text cleaning (KB-CLEANING)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from treadle.knowledge import (
    FULL_DOC_MAX_LENGTH,
    ChunkingError,
    ParentChunk,
    clean_text,
    split_general,
    split_parent_child,
)


def test_the_delimiter_is_removed_and_pieces_that_fit_are_chunks_as_they_are() -> None:
    assert split_general("CBACD", delimiter="A") == ["CB", "CD"]
    assert split_general("one\n\ntwo\n\n\n\nthree", max_length=100) == ["one", "two", "three"]
    # Escaped delimiters, as forms and the API send them.
    assert split_general("a\nb\nc", delimiter="\\n") == ["a", "b", "c"]


def test_a_piece_over_the_limit_is_split_on_spaces_with_overlapping_words() -> None:
    text = " ".join(f"word{i}" for i in range(60))
    chunks = split_general(text, max_length=50, overlap=12)
    assert all(len(chunk) <= 50 for chunk in chunks)
    assert chunks[0] == "word0 word1 word2 word3 word4 word5 word6 word7"
    assert chunks[1].startswith("word6 word7 ")  # the last 11 characters of the chunk before
    assert chunks[-1].endswith("word59")
    words = [w for chunk in chunks for w in chunk.split()]
    assert sorted(set(words), key=lambda w: int(w[4:])) == text.split()


def test_sentences_go_before_spaces_and_text_without_spaces_is_force_split() -> None:
    text = "First sentence is here. Second one follows. Third ends it."
    assert split_general(text, delimiter="\n\n", max_length=30, overlap=0) == [
        "First sentence is here.", "Second one follows.", "Third ends it."
    ]  # fmt: skip
    assert split_general("x" * 23, max_length=10, overlap=3) == ["x" * 10, "x" * 10, "x" * 9]
    assert split_general("句子一。句子二。句子三。", max_length=5, overlap=0) == ["句子一。", "句子二。", "句子三。"]


@pytest.mark.parametrize(
    ("max_length", "overlap", "message"),
    [
        (0, 0, "max_length must be at least 1 character, got 0"),
        (10, -1, "overlap must not be negative, got -1"),
        (10, 10, r"overlap \(10\) must be less than max_length \(10\)"),
    ],
)
def test_impossible_rules_are_refused_with_the_setting_named(max_length: int, overlap: int, message: str) -> None:
    with pytest.raises(ChunkingError, match=message):
        split_general("text", max_length=max_length, overlap=overlap)


def _subsequence(needle: str, haystack: str) -> bool:
    found = iter(haystack)
    return all(character in found for character in needle)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab c.\n。xyz"), max_size=400),
    max_length=st.integers(min_value=1, max_value=60),
    overlap_share=st.floats(min_value=0, max_value=0.9),
)
def test_chunks_fit_and_nothing_is_lost_or_reordered(text: str, max_length: int, overlap_share: float) -> None:
    overlap = int(max_length * overlap_share)
    chunks = split_general(text, delimiter="\n\n", max_length=max_length, overlap=overlap)
    assert all(0 < len(chunk) <= max_length and chunk == chunk.strip() for chunk in chunks)
    # Every character of the text but whitespace and the delimiter is in the chunks, in order
    # (overlaps repeat some; none go missing).
    wanted = re.sub(r"\s", "", text.replace("\n\n", ""))
    assert _subsequence(wanted, re.sub(r"\s", "", "".join(chunks)))
    if overlap == 0:  # without overlap, nothing is repeated either
        assert re.sub(r"\s", "", "".join(chunks)) == wanted


def test_cleaning_always_drops_control_characters_and_special_token_bars() -> None:
    assert clean_text("a\x00b\x07c<|endoftext|>\ufffe\td\ne") == "abc<endoftext>\td\ne"


def test_cleaning_collapses_spaces_and_newlines_when_asked() -> None:
    text = "a\n\n\n\nb  \t c\u3000\u00a0d\n\ne"
    assert clean_text(text) == text
    assert clean_text(text, remove_extra_spaces=True) == "a\n\nb c d\n\ne"


def test_cleaning_removes_urls_and_emails_but_keeps_markdown_images() -> None:
    text = (
        "write to me@example.org or see https://example.org/a?b=1 and ftp://x.y/z ![chart](https://img.example/c.png)"
    )
    assert clean_text(text, remove_urls_emails=True) == "write to  or see  and  ![chart](https://img.example/c.png)"
    assert clean_text(text) == text


def test_paragraph_parents_hold_their_lines_as_children() -> None:
    """KB-CHUNK-PARENT-CHILD: the search matches children and returns the whole parent."""
    text = "Para one line a.\nline b.\n\nPara two.\nIts second line is longer than the limit here."
    assert split_parent_child(text, child_max_length=20) == [
        ParentChunk("Para one line a.\nline b.", ("Para one line a.", "line b.")),
        ParentChunk(
            "Para two.\nIts second line is longer than the limit here.",
            ("Para two.", "Its second line is", "longer than the", "limit here."),
        ),
    ]


def test_full_doc_makes_one_parent_cut_at_its_limit() -> None:
    text = "\n".join(f"line {i}" for i in range(20_000))
    (parent,) = split_parent_child(text, parent_mode="full-doc", child_max_length=100)
    assert len(parent.content) <= FULL_DOC_MAX_LENGTH and text.startswith(parent.content)
    assert parent.children[0] == "line 0" and all(len(child) <= 100 for child in parent.children)
    assert split_parent_child("  \n ", parent_mode="full-doc") == []
    with pytest.raises(ChunkingError, match="parent_mode must be 'paragraph' or 'full-doc', got 'pages'"):
        split_parent_child(text, parent_mode="pages")  # type: ignore[arg-type]
