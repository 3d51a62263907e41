"""Summary tables: what the heaviest views would otherwise recompute on every query.

Computed once per run, after every batch is written and before the commit, inside the run's
transaction (so from the lake as the run leaves it), and only for what the run changed:

* ``keyphrase_daily``: distinct papers per (keyphrase, page date), for
  ``keyphrase_frequency``.  One month at a time: a run recomputes each month it added
  listings to, from all of that month's listings, and replaces the month whole (DELETE +
  INSERT), so a page date captured twice still counts each paper once.
* ``title_pairs``: near-duplicate titles, for ``possible_duplicates``.  Append-only: titles
  never change, so a run compares only its new papers with the papers sharing a blocking key
  (a rare title word or word pair, or an end of the title key).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from paperlake.lake import LAKE, Rows, Transaction

TITLE_PAIRS_SQL = Path(__file__).resolve().parent / "sql" / "summaries" / "title_pairs.sql"


def keyphrase_daily(
    listings: pl.LazyFrame, keyphrases: pl.LazyFrame, months: list[date]
) -> pl.DataFrame:
    """(phrase, listed_on, n_papers, n_words, month) for every page date in ``months``."""
    month = pl.col("listed_on").dt.truncate("1mo")
    daily = listings.filter(month.is_in(months)).select("listed_on", "paper_id").unique()
    return (
        daily.join(keyphrases.select("paper_id", "phrase", "n_words"), on="paper_id")
        .group_by("phrase", "n_words", "listed_on")
        .agg(pl.len().cast(pl.Int32).alias("n_papers"))
        .select("phrase", "listed_on", "n_papers", "n_words", month.alias("month"))
        .collect()
    )


def title_pairs(run: Transaction, papers: pl.DataFrame) -> pl.DataFrame:
    """Pairs (a < b) with near-identical titles that involve at least one new paper."""
    schema = {"paper_id_a": pl.String, "paper_id_b": pl.String, "similarity": pl.Float64}
    if not papers.height:
        return pl.DataFrame(schema=schema)
    run.con.register("new_papers", Rows(papers.select("paper_id", "title_key")))
    try:
        sql = TITLE_PAIRS_SQL.read_text().replace("every_paper", f"{LAKE}.papers")
        rows = run.con.execute(sql).fetchall()
    finally:
        run.con.unregister("new_papers")
    return pl.DataFrame(rows, schema=schema, orient="row")


_NO_PAPERS = {"paper_id": pl.String, "title_key": pl.String}


def summarize(run: Transaction, new: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The summary rows for a run that wrote the rows ``new`` (table -> its new rows)."""
    listings = new.get("listings", pl.DataFrame(schema={"listed_on": pl.Date}))
    months = listings.select(pl.col("listed_on").dt.truncate("1mo").unique().sort())
    return {
        "keyphrase_daily": keyphrase_daily(
            run.scan("listings"), run.scan("paper_keyphrases"), months["listed_on"].to_list()
        ),
        "title_pairs": title_pairs(run, new.get("papers", pl.DataFrame(schema=_NO_PAPERS))),
    }
