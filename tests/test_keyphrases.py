"""The tokenizer shared by keyphrases and the search index, against a plain-Python reading
of its rule."""

from __future__ import annotations

import unicodedata

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from paperlake.keyphrases import STOPWORDS, query_terms, word_lists


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
