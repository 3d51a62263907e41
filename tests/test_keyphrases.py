"""The tokenizer shared by keyphrases and the search index, against a plain-Python reading
of its rule."""

from __future__ import annotations

import unicodedata
from collections import Counter

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from paperlake.keyphrases import STOPWORDS, paper_terms, query_terms, word_lists


def reference_words(text: str) -> list[str]:
    """Words are runs of letters, digits, ``|``, ``.`` and ``-``, stripped of the dots and
    hyphens at their ends; one-character words are dropped (but ``|``)."""
    spaced = "".join(
        char if unicodedata.category(char)[0] in "LN" or char in "|.-" else " "
        for char in text.lower()
    )
    words = (word.strip("-.") for word in spaced.split(" "))
    return [word for word in words if len(word) > 1 or word == "|"]


TEXTS = st.text(alphabet=st.sampled_from(list("ab1Z .-|,()é\u00a0\t\n—ıİ٣_")), max_size=40)


@settings(max_examples=300)
@given(st.lists(TEXTS, min_size=1, max_size=5))
def test_words_are_runs_of_word_characters_stripped_of_dots_and_hyphens(
    texts: list[str],
) -> None:
    found = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    words = found.select(word_lists(pl.col("text")))["text"].to_list()
    assert words == [reference_words(text) for text in texts]


def test_hyphenated_words_are_searchable_whole_and_by_parts() -> None:
    assert query_terms("Mixture-of-Experts, at scale.") == [
        "mixture-of-experts",
        "scale",
        "mixture",
        "experts",
    ]


def test_no_stopword_has_a_hyphen() -> None:
    """_search_words drops stopwords before it splits hyphenated words into their parts."""
    assert not [word for word in STOPWORDS if "-" in word]


def reference_terms(text: str) -> list[str]:
    """The search terms of a text: its words but stopwords, then the parts of its
    hyphenated words (but stopwords and one-character parts)."""
    words = [word for word in reference_words(text) if word not in STOPWORDS and word != "|"]
    parts = [part for word in words if "-" in word for part in word.split("-")]
    return words + [part for part in parts if len(part) > 1 and part not in STOPWORDS]


@settings(max_examples=300)
@given(st.lists(st.tuples(TEXTS, TEXTS), min_size=1, max_size=5))
def test_search_terms_count_the_words_and_the_parts_of_hyphenated_words(
    papers: list[tuple[str, str]],
) -> None:
    frame = pl.DataFrame(
        {
            "paper_id": [str(number) for number in range(len(papers))],
            "title": [title for title, _ in papers],
            "abstract": [abstract for _, abstract in papers],
        }
    )
    terms = paper_terms(frame)
    for number, (title, abstract) in enumerate(papers):
        expected = reference_terms(f"{title} {abstract}")
        rows = terms.filter(pl.col("paper_id") == str(number))
        assert dict(zip(rows["term"], rows["tf"], strict=True)) == Counter(expected)
        assert set(rows["doc_len"]) <= {len(expected)}
