"""Words, keyphrases and search terms of paper text, computed in bulk with polars.

One tokenizer serves both uses, so a search for "mixture of experts" looks up exactly the
terms the index holds:

* **keyphrases**: the 1-3 word n-grams of a title that neither start nor end with a
  stopword and contain no LaTeX leftovers (``mathcal``, ``scriptsize``, ``varepsilon``);
* **terms**: every non-stopword token with its count, for BM25 search.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl


def word_list(name: str) -> frozenset[str]:
    """The words of the bundled list ``name`` (``stopwords.txt``, ``common_words.txt``):
    every whitespace-separated word of its lines, except ``#`` comment lines."""
    lines = Path(__file__).with_name(name).read_text().splitlines()
    return frozenset(word for line in lines if not line.startswith("#") for word in line.split())


STOPWORDS = word_list("stopwords.txt")
LATEX_LEFTOVERS = frozenset(
    "mathcal mathbb mathbf mathrm mathit mathsf varepsilon epsilon textbf textit textrm "
    "scriptsize footnotesize frac sqrt operatorname widetilde tilde cdot ldots cdots leq geq "
    "infty emph boldsymbol".split()
)
"""What is left of LaTeX commands in a dump's text (``\\mathcal{D}`` as ``mathcalD``): never
a search term, keyphrase or entity (``paperlake.entities`` drops a token holding one)."""
GENERIC = frozenset(
    "model models learning data task tasks training performance problem problems algorithm "
    "algorithms framework frameworks network networks methods method results set sets "
    "approach analysis time number large small high low good better best key general "
    "simple effective efficient important state art theory empirical experiments "
    "experimental evaluation function functions information learn trained space setting "
    "settings case cases terms order way ways systems system process technique techniques "
    "knowledge quality strong fine".split()
)
"""Words too common in ML abstracts to be a keyphrase alone (still fine inside a phrase)."""
_SEPARATOR = r"[^\p{L}\p{N}|.\- ]"
_NOT_WORD = rf"[.\-]*(?:{_SEPARATOR}[.\-]*)+|[.\-]+ [.\-]*|(?:^| )[.\-]+|[.\-]+$"
"""What becomes a space before the text is split on spaces: a word is a run of letters,
digits, ``|``, ``.`` and ``-``, without the dots and hyphens at its ends (the runs of them
next to a separator, a space or an end of the text).  Spaces themselves are left alone
(splitting drops the empty words): matching each one was most of the tokenizer's cost."""
_URL = r"https?://\S+"
_UNSEARCHABLE = [*STOPWORDS, "|"]
_BREAK = r"[,;:!?()\[\]{}\"]|\.(?:\s|$)|\s-{1,2}\s"


def word_lists(text: pl.Expr, *, breaks: bool = False) -> pl.Expr:
    """The lower-cased words of ``text`` as one list per row, in order.

    URLs are dropped.  With ``breaks``, punctuation that ends a phrase becomes the word ``|``
    so that no n-gram spans it ("ADAHESSIAN: An Adaptive" yields no "adahessian an adaptive").
    Everything stays per row (list expressions) rather than one row per word: a global
    group-by over millions of words was 4x slower than counting inside each paper's list.
    """
    return _split(text, breaks=breaks).list.filter(_LONG | (pl.element() == "|"))


_LONG = pl.element().str.len_chars() > 1
"""A word is at least two characters long (``|`` marks a break, not a word)."""


def _split(text: pl.Expr, *, breaks: bool) -> pl.Expr:
    """:func:`word_lists` before the one-character pieces are dropped."""
    return _cleaned(text, breaks=breaks).str.split(" ")


def _cleaned(text: pl.Expr, *, breaks: bool) -> pl.Expr:
    """``text`` lower-cased, its words separated by spaces (see :data:`_NOT_WORD`)."""
    cleaned = text.str.to_lowercase().str.replace_all(_URL, " ")
    if breaks:
        cleaned = cleaned.str.replace_all(_BREAK, " | ")
    return cleaned.str.replace_all(_NOT_WORD, " ")


_HYPHENATED = r"[^ ]*-[^ ]*"
"""A word of the cleaned text with a hyphen inside (:data:`_NOT_WORD` strips its ends)."""


def _search_words(texts: pl.DataFrame, text: pl.Expr) -> pl.Series:
    """The searchable words of each ``text``, one list per row.

    A hyphenated word is indexed whole and by its parts, so "mixture-of-memories" is found
    by "mixture" and "memories" as well: the text's words, then the parts of its hyphenated
    ones.  The parts are appended to the cleaned text as more words (its hyphenated words
    with spaces for hyphens), so one split and one filter pass yield both; picking the
    hyphenated words out of each paper's word list and splitting them there cost ~10% more
    of the search words (measured on 875 dumps of the 10-year benchmark).  The cleaned text
    is materialized first: used twice in one expression, polars would clean it twice."""
    cleaned = texts.select(_cleaned(text, breaks=False).alias("words"))
    words = pl.col("words")
    parts = (
        words.str.extract_all(_HYPHENATED).list.join(" ").str.replace_all("-", " ", literal=True)
    )
    # One filter pass (``|`` is unsearchable anyway): a second cost 10% of the index.
    searchable = pl.concat_str(words, parts, separator=" ").str.split(" ")
    return cleaned.select(searchable.list.filter(_LONG & ~pl.element().is_in(_UNSEARCHABLE)))[
        "words"
    ]


def query_terms(query: str) -> list[str]:
    """The search terms of a user query, tokenized exactly like the index."""
    words = _search_words(pl.DataFrame({"query": [query]}), pl.col("query"))
    return words[0].unique(maintain_order=True).to_list()


def paper_terms(papers: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, term, tf, doc_len) for BM25 over title and abstract.

    Terms are counted within each paper's word list; rows are in no particular order
    (sorting ten million rows cost more than building them)."""
    words = papers.select("paper_id").with_columns(
        _search_words(papers, pl.concat_str("title", "abstract", separator=" ")).alias("term")
    )
    return (
        words.with_columns(
            pl.col("term").list.len().cast(pl.Int32).alias("doc_len"),
            pl.col("term").list.eval(
                pl.element().value_counts(name="tf").struct.rename_fields(["term", "tf"])
            ),
        )
        .explode("term")
        .unnest("term")
        .drop_nulls("term")  # a paper with no searchable word has no rows
        .select("paper_id", "term", pl.col("tf").cast(pl.Int32), "doc_len")
    )


def paper_keyphrases(papers: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, phrase, n_words): the 1-3 word n-grams of each paper's title.

    Titles are where a paper names its topic; abstract n-grams were tried and cost ~2 s per
    year of dumps for mostly boilerplate ("address this problem"), so they are left out.
    """
    words = papers.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("paper"),
        "paper_id",
        word_lists(pl.col("title"), breaks=True).alias("word"),
    )
    word = pl.col("word")
    # Each word's flags once, shifted below (not each n-gram's words tested again).
    words = (
        words.explode("word")
        .drop_nulls("word")
        .with_columns(
            word.is_in([*STOPWORDS, *LATEX_LEFTOVERS, "|"]).alias("no_end"),
            (word.is_in([*LATEX_LEFTOVERS, "|"]) | word.str.contains(r"^\d+$")).alias("nowhere"),
        )
    )
    grams = []
    for n in (1, 2, 3):
        # Whole-column shifts; a gram that ran into the next paper's title is dropped.
        keep = pl.all_horizontal(
            ~pl.col("no_end"),
            ~pl.col("no_end").shift(1 - n),
            *(pl.col("paper").shift(-k) == pl.col("paper") for k in range(1, n)),
            *(~pl.col("nowhere").shift(-k) for k in range(n)),
        )
        shifted = [word.shift(-k).alias(f"w{k}") for k in range(n)]
        gram = (
            words.select("paper_id", *shifted, keep.fill_null(False).alias("keep"))
            .filter("keep")
            .select(
                "paper_id",
                pl.concat_str([f"w{k}" for k in range(n)], separator=" ").alias("phrase"),
                pl.lit(n, dtype=pl.Int32).alias("n_words"),
            )
        )
        if n == 1:
            gram = gram.filter(~pl.col("phrase").is_in(list(GENERIC)))
        grams.append(gram)
    return pl.concat(grams).unique(["paper_id", "phrase"]).sort("paper_id", "phrase")
