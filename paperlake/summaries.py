"""Summary tables: what the heaviest views would otherwise recompute on every query.

Computed once per run, after every batch is staged and before the publish, from the staged
lake, and only for what the run changed:

* ``keyphrase_daily``: distinct papers per (keyphrase, page date), for
  ``keyphrase_frequency``.  Stored one partition per month.  A run recomputes each month it
  added listings to, from all of that month's listings, and replaces the month whole, so a
  page date captured twice still counts each paper once.
* ``title_pairs``: near-duplicate titles, for ``possible_duplicates``.  Append-only: titles
  never change, so a run compares only its new papers with the papers sharing a blocking key
  (a rare title word or word pair, or an end of the title key).

A warehouse built before a summary existed has no stats entry for it; its first run then
computes the summary over everything.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from paperlake.lake import Manifest, Warehouse

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


def title_pairs(new_papers: list[Path], all_papers: list[Path]) -> pl.DataFrame:
    """Pairs (a < b) with near-identical titles that involve at least one new paper."""
    schema = {"paper_id_a": pl.String, "paper_id_b": pl.String, "similarity": pl.Float64}
    if not new_papers:
        return pl.DataFrame(schema=schema)
    with duckdb.connect() as con:
        rows = con.execute(
            TITLE_PAIRS_SQL.read_text(),
            {"new": [str(p) for p in new_papers], "every": [str(p) for p in all_papers]},
        ).fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


def summarize(warehouse: Warehouse, base: Manifest, staged: Manifest) -> dict[str, pl.DataFrame]:
    """The summary rows a run whose lake went from ``base`` to ``staged`` must stage."""

    def added(table: str, summary: str) -> list[str]:
        if summary not in base.stats:  # never computed: everything is new to it
            return staged.tables[table]
        before = set(base.tables[table])
        return [rel for rel in staged.tables[table] if rel not in before]

    new_listings = added("listings", "keyphrase_daily")
    months = (
        warehouse.scan_files("listings", new_listings)
        .select(pl.col("listed_on").dt.truncate("1mo").unique().sort())
        .collect()["listed_on"]
        .to_list()
    )
    return {
        "keyphrase_daily": keyphrase_daily(
            warehouse.scan("listings", staged), warehouse.scan("paper_keyphrases", staged), months
        ),
        "title_pairs": title_pairs(
            [warehouse.root / rel for rel in added("papers", "title_pairs")],
            [warehouse.root / rel for rel in staged.tables["papers"]],
        ),
    }
