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

STOPWORDS = frozenset(Path(__file__).with_name("stopwords.txt").read_text().split())
LATEX_LEFTOVERS = frozenset(
    "mathcal mathbb mathbf mathrm mathit mathsf varepsilon epsilon textbf textit textrm "
    "scriptsize footnotesize frac sqrt operatorname widetilde tilde cdot ldots cdots leq geq "
    "infty emph boldsymbol".split()
)
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
_NOT_WORD = r"[^\p{L}\p{N}|.\-]+"
_URL = r"https?://\S+"
_BREAK = r"[,;:!?()\[\]{}\"]|\.(?:\s|$)|\s-{1,2}\s"


def tokens(frame: pl.DataFrame, text: pl.Expr) -> pl.DataFrame:
    """(paper_id, word) for the lower-cased words of ``text``, in order.

    URLs are dropped; punctuation that ends a phrase becomes the word ``|`` so that no
    n-gram spans it ("ADAHESSIAN: An Adaptive" yields no "adahessian an adaptive").
    """
    cleaned = (
        text.str.to_lowercase()
        .str.replace_all(_URL, " ")
        .str.replace_all(_BREAK, " | ")
        .str.replace_all(_NOT_WORD, " ")
    )
    return (
        frame.select("paper_id", cleaned.str.split(" ").alias("word"))
        .explode("word")
        .with_columns(pl.col("word").str.strip_chars("-."))
        .filter((pl.col("word").str.len_chars() > 1) | (pl.col("word") == "|"))
    )


def query_terms(query: str) -> list[str]:
    """The search terms of a user query, tokenized exactly like the index."""
    words = _search_words(
        tokens(pl.DataFrame({"paper_id": ["q"], "text": [query]}), pl.col("text"))
    )
    return words["word"].unique(maintain_order=True).to_list()


def _search_words(words: pl.DataFrame) -> pl.DataFrame:
    """Index a hyphenated word whole and by its parts: "mixture-of-memories" is found by
    "mixture" and "memories" as well as by itself."""
    parts = (
        words.filter(pl.col("word").str.contains("-", literal=True))
        .with_columns(pl.col("word").str.split("-"))
        .explode("word")
        .filter(pl.col("word").str.len_chars() > 1)
    )
    return pl.concat([words, parts]).filter(~pl.col("word").is_in([*STOPWORDS, "|"]))


def paper_terms(papers: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, term, tf, doc_len) for BM25 over title and abstract."""
    words = _search_words(tokens(papers, pl.concat_str("title", "abstract", separator=" ")))
    lengths = words.group_by("paper_id").agg(pl.len().cast(pl.Int32).alias("doc_len"))
    return (
        words.group_by("paper_id", "word")
        .agg(pl.len().cast(pl.Int32).alias("tf"))
        .join(lengths, on="paper_id")
        .select("paper_id", pl.col("word").alias("term"), "tf", "doc_len")
        .sort("paper_id", "term")
    )


def paper_keyphrases(papers: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, phrase, n_words): the 1-3 word n-grams of each paper's title.

    Titles are where a paper names its topic; abstract n-grams were tried and cost ~2 s per
    year of dumps for mostly boilerplate ("address this problem"), so they are left out.
    """
    words = tokens(papers, pl.col("title"))
    bad = [*STOPWORDS, *LATEX_LEFTOVERS, "|"]
    grams = []
    for n in (1, 2, 3):
        # Whole-column shifts, then drop grams that ran into the next paper's title.
        columns = [pl.col("word").shift(-k).alias(f"w{k}") for k in range(n)]
        same_title = pl.all_horizontal(
            [pl.col("paper_id").shift(-k) == pl.col("paper_id") for k in range(n)]
        )
        gram = (
            words.select("paper_id", *columns, same_title.fill_null(False).alias("whole"))
            .filter(pl.col("whole"))
            .filter(
                ~pl.col("w0").is_in(bad)
                & ~pl.col(f"w{n - 1}").is_in(bad)
                & ~pl.any_horizontal(
                    [pl.col(f"w{k}").is_in([*LATEX_LEFTOVERS, "|"]) for k in range(n)]
                )
                & ~pl.any_horizontal([pl.col(f"w{k}").str.contains(r"^\d+$") for k in range(n)])
            )
            .select(
                "paper_id",
                pl.concat_str([pl.col(f"w{k}") for k in range(n)], separator=" ").alias("phrase"),
                pl.lit(n, dtype=pl.Int32).alias("n_words"),
            )
        )
        if n == 1:
            gram = gram.filter(~pl.col("phrase").is_in(list(GENERIC)))
        grams.append(gram)
    return pl.concat(grams).unique(["paper_id", "phrase"]).sort("paper_id", "phrase")
