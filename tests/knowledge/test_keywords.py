"""Keywords for Economical indexing (KB-INDEX-ECONOMICAL): by frequency, stop words left out, at most
10 by default, CJK text in two-character words."""

from __future__ import annotations

from treadle.knowledge.keywords import extract_keywords


def test_most_frequent_words_first_without_stop_words() -> None:
    text = "The refund policy: a refund is paid within 14 days. Refund requests go to the billing team."
    assert extract_keywords(text, limit=3) == ["refund", "policy", "paid"]
    assert "the" not in extract_keywords(text) and "14" not in extract_keywords(text)


def test_at_most_ten_by_default_and_ties_in_order_of_appearance() -> None:
    words = [f"word{letter}" for letter in "abcdefghijkl"]
    assert extract_keywords(" ".join(words)) == words[:10]
    assert extract_keywords("anything", limit=0) == []
    assert extract_keywords("") == []


def test_words_keep_inner_apostrophes_and_hyphens() -> None:
    assert extract_keywords("Parent-child chunking isn't Dify's default chunking.") == [
        "chunking", "parent-child", "dify's", "default"]


def test_cjk_text_gives_two_character_words() -> None:
    keywords = extract_keywords("退款政策 退款在十四天内支付。退款申请")
    assert keywords[0] == "退款"
    assert "政策" in keywords and all(len(word) == 2 for word in keywords)
    assert extract_keywords("日本語のテキストとEnglish words")[:1] == ["日本"]
