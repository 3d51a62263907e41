"""Summary tables: what the heaviest views would otherwise recompute on every query.

Computed once per run, after every batch is written and before the commit, inside the run's
transaction (so from the lake as the run leaves it), and only for what the run changed:

* ``keyphrase_daily``: distinct papers per (keyphrase, page date), for
  ``keyphrase_frequency``.  By page date: a run recomputes each date it added listings to,
  from all of that date's listings in the lake, and replaces the date's rows, so a page date
  captured twice still counts each paper once.  A new date has no stored rows: its rows are
  only appended (no delete file; see ``Transaction.append``).  The dates are computed the
  whole months of :data:`KEYPHRASE_LISTINGS` of the run's listings at a time.
* ``topic_daily``: distinct papers per (taxonomy topic, page date), for ``topic_frequency``
  (the dashboard's topic chart and headline).  Replaced a date at a time as
  ``keyphrase_daily`` is; ``retopic`` rewrites it whole.
* ``title_words``: each title's blocking words (its words, pairs of adjacent words and the
  two ends of its key), at most ``MAX_BLOCK + 1`` titles per word.  Append-only: titles
  never change, so a run adds its new papers' words (every paper's, the first time a lake
  has none).
* ``title_pairs``: near-duplicate titles, for ``possible_duplicates``.  Append-only: a run
  compares only its new papers with the papers sharing a blocking key (a rare title word or
  word pair, or an end of the title key), counting words in ``title_words``: it never reads
  or tokenizes the other titles.  The keys are found once (``title_keys.sql``), the pairs
  a slice of new papers at a time (``title_pairs.sql``).

``title_words`` stores integers, not strings (``sql/summaries/macros.sql``): a word as the lower
64 bits of its md5 (``word_hash``), a paper as its paper_id's 16 hex digits read as a UBIGINT
(``paper_number``, lossless: ``paper_hex`` gives the paper_id back), and the title queries join
on them; only ``title_pairs`` turns them back into paper_ids.  A daily run reads the table
whole twice, and its strings were most of the cost: 971k rows at 10 years, of ~13-character
words and 16-character paper_ids (too long for DuckDB's inline strings).  A daily run on a
10-year lake (``daydiff``, 3 days, 3 runs alternated, load ~1.4): ``title_pairs`` 0.202 ->
0.138 s of CPU, ``title_words`` 0.081 -> 0.061 s.  On one thread, 60 of its titles as new
(medians of 7): ``title_keys.sql`` 0.149 -> 0.065 s, ``title_pairs.sql`` 0.036 -> 0.048 s
(it now settles the ties, below), ``title_words`` 0.068 -> 0.046 s.

A title's keys are its 5 rarest words; equally rare ones were ranked by their spelling, and
still are (a hash order kept the near-copies' pairs but not every other pair: 1 pair in 366
and in 3,107 differed in ``bench.duplicates``' real-shaped 20k and 60k titles).  The hashes
rank the words, and only a title whose 5th and 6th rarest are as rare and shared by other
titles (~19% of them) has its words spelled again, from its title, which ``title_pairs.sql``
reads anyway (``title_keys.sql`` says how).

Two distinct words share a hash with probability ~n^2/2^65 over a lake's n distinct words:
~6e-9 at 10 years (469k words), ~6e-8 at 30 (~1.5M).  Such a pair of words would count as
one: their titles share a block, which can only add candidate pairs (each still kept only at
Jaro-Winkler >= 0.9 and past the sibling rules, as every candidate), or make the merged word
commoner and push it out of a title's 5 rarest keys (a near-duplicate found only through it
would be missed).  At those odds, accepted rather than storing the strings again.

``title_words`` and ``title_pairs`` are computed :data:`TITLE_SLICE_BYTES` and
:data:`PAIR_SLICE_BYTES` of titles at a time, so a backfill's summaries take the memory of a
slice, not of all its papers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from paperlake.lake import LAKE, Transaction
from paperlake.lake.transaction import among, one_thread

SUMMARIES_SQL = Path(__file__).resolve().parent / "sql" / "summaries"
TITLE_WORDS_SQL = SUMMARIES_SQL / "title_words.sql"
STORED_COUNTS_SQL = SUMMARIES_SQL / "stored_counts.sql"
TITLE_KEYS_SQL = SUMMARIES_SQL / "title_keys.sql"
TITLE_PAIRS_SQL = SUMMARIES_SQL / "title_pairs.sql"
TITLE_MACROS_SQL = SUMMARIES_SQL / "macros.sql"
KEYPHRASE_LISTINGS = 60_000
"""The run's new listings whose page dates' ``keyphrase_daily`` is computed, checked and
written at a time (whole months, at least one): a backfill's summary is never held whole
(at 30 years it would be most of the run's memory).  Each part reads the lake's
``paper_keyphrases`` once, so the cut is by rows, not by a number of months: 60,000
listings are 3 years of the 10-year backfill (4 reads instead of 10: the stage's 1.9 s of
CPU became 1.4 s, side by side in ``bench.worker profile``, its peak unchanged) and, as
before, one year of the 30-year one."""
TITLE_SLICE_BYTES = 2 * 1024 * 1024
"""Title-key bytes of papers whose ``title_words`` are computed at a time (~30k synthetic papers;
``title_pairs``: :data:`PAIR_SLICE_BYTES`): a slice's words, not the backfill's length, set
the stage's memory. A slice's words (~660k rows for 2 MiB) are held outside DuckDB's memory
limit while polars sorts them (:func:`first_titles`): at 30 years (250k papers) the stage alone
peaks +590 MiB with 4 MiB slices, +318 with 2 MiB, +165 with 1 MiB, for 9.2, 9.4 and 11.0 s of
CPU (``python -m bench.title_words``; with DuckDB's window: +488 / +272 / +158 MiB for 10.6,
12.6 and 16.7 s, side by side).  2 MiB: the 30-year backfill peaked at 938-944 MiB
(``bench.worker backfill``), 884 MB once ``title_words.sql`` left a title's repeated words
to :func:`first_titles` instead of a DISTINCT (``bench.backfill``, 2026-12-07; the stage's
figures above predate that change)."""
PAIR_SLICE_BYTES = 8 * 1024 * 1024
"""Title-key bytes of new papers whose ``title_pairs`` are found at a time.  A slice's pairs
query holds far less than the words' one, and each reads the whole ``title_keys`` table
(spilled to disk at 30 years): 2 MiB slices cost the 30-year backfill 113.7 s of CPU, 8 MiB
ones 107.1 s, peak RSS 955 and 951 MiB (``bench.worker backfill``, back to back)."""
TITLE_KEYS_MEMORY = "256MB"
"""DuckDB's memory limit while the one-pass ``title_keys`` query runs (the rest spills to
the warehouse: :meth:`~paperlake.lake.transaction.Transaction.bounded`)."""
PAPER_LIST_MAX = 500
"""Up to this many papers, :func:`keyphrase_daily` reads their ``paper_keyphrases`` with a
list filter, which the Parquet scan applies to ``paper_id`` before it reads the other
columns; beyond, with a semi-join on the papers (which reads every row's columns).  10-year
lake, CPU: a daily run's 50 papers take 16 ms against 75 ms with the semi-join, 222 papers
32 against 76 ms, 22,869 papers (a backfill's part) 1.8 s against 0.13 s.  (``paper_topics``
gains nothing: scanning its ``paper_id`` alone costs what ``topic_daily``'s join does.)"""
ONE_THREAD_DATES = 7
"""Up to this many page dates, :func:`keyphrase_daily` and :func:`topic_daily` run on one
DuckDB thread: a daily run's queries are too small for a second thread to save time, only
CPU (10-year lake, a new day: 0.025 + 0.026 s of CPU against 0.033 + 0.030).  A backfill's
parts, hundreds of dates, keep the connection's threads."""
MAX_BLOCK = 50
"""A word shared by more titles than this is too common to block on (``$max_block``)."""


def keyphrase_daily(run: Transaction, dates: list[date]) -> pl.DataFrame:
    """(phrase, listed_on, n_papers, n_words, month) for the page dates ``dates`` (sorted).

    DuckDB reads only those dates' listings and their papers' keyphrases
    (:data:`PAPER_LIST_MAX`); polars counts
    (at 30 years: 5.8 s of CPU and 0.45 GB peak a year at a time, against 1.9 s and 1.6 GB
    with both tables read whole, and 19 s with the counting in DuckDB too)."""
    sql, params = _dates_papers(dates)
    with _threads_for(run, dates):
        daily = pl.DataFrame(run.con.sql(sql, params=params))
        daily = daily.cast({"listed_on": pl.Date, "paper_id": pl.String})
        keyphrases = _keyphrases(run, daily["paper_id"].unique())
    return (
        daily.join(keyphrases, on="paper_id")
        .group_by("phrase", "n_words", "listed_on")
        .agg(pl.len().cast(pl.Int32).alias("n_papers"))
        .select("phrase", "listed_on", "n_papers", "n_words", _MONTH.alias("month"))
    )


_DAILY_PAPERS = f"SELECT DISTINCT listed_on, paper_id FROM {LAKE}.listings"
"""The distinct (listed_on, paper_id) of every page date."""


def _dates_papers(dates: list[date]) -> tuple[str, dict[str, object]]:
    """The query of the distinct (listed_on, paper_id) of the page dates ``dates`` (sorted),
    and its parameters: DuckDB skips the listings outside their range (:func:`among`)."""
    where, params = among("listed_on", list(dates))
    return f"{_DAILY_PAPERS} WHERE {where}", params


def _keyphrases(run: Transaction, papers: pl.Series) -> pl.DataFrame:
    """The stored keyphrases of the paper_ids ``papers`` (distinct): a list filter up to
    :data:`PAPER_LIST_MAX` of them, a semi-join beyond."""
    select = f"SELECT paper_id, phrase, n_words FROM {LAKE}.paper_keyphrases WHERE"
    if papers.len() <= PAPER_LIST_MAX:
        sql = f"{select} list_contains($papers, paper_id)"
        rows = pl.DataFrame(run.con.sql(sql, params={"papers": papers.to_list()}))
    else:
        with run.registered(listed_papers=papers.to_frame("paper_id")):
            rows = pl.DataFrame(
                run.con.sql(f"{select} paper_id IN (SELECT paper_id FROM listed_papers)")
            )
    return rows.cast(_KEYPHRASES)  # type: ignore[arg-type]


def topic_daily(run: Transaction, dates: list[date] | None) -> pl.DataFrame:
    """(topic, listed_on, n_papers, month) for the page dates ``dates`` (sorted; ``None``:
    every date, as after ``retopic`` or on a lake that has listings but no ``topic_daily``
    yet, written before the table existed).  Counted in DuckDB: the result is at most
    topics x days (~30 rows a day)."""
    params: dict[str, object] = {}
    if dates is None:
        daily = _DAILY_PAPERS
    elif dates:
        daily, params = _dates_papers(dates)
    else:
        return pl.DataFrame(schema=_TOPIC_DAILY)
    sql = (
        f"WITH daily AS ({daily}) SELECT t.topic, d.listed_on, count(*)::INTEGER AS n_papers,"
        " date_trunc('month', d.listed_on)::DATE AS month"
        f" FROM daily AS d JOIN {LAKE}.paper_topics AS t USING (paper_id) GROUP BY ALL"
    )
    with _threads_for(run, dates):
        daily_topics = pl.DataFrame(run.con.sql(sql, params=params))
    return daily_topics.cast(_TOPIC_DAILY)  # type: ignore[arg-type]


def _threads_for(run: Transaction, dates: list[date] | None) -> AbstractContextManager[None]:
    """One DuckDB thread for a summary of at most :data:`ONE_THREAD_DATES` page dates."""
    few = dates is not None and len(dates) <= ONE_THREAD_DATES
    return one_thread(run.con) if few else nullcontext()


def _topic_dates(run: Transaction, dates: list[date]) -> list[date] | None:
    """The page dates whose ``topic_daily`` a run that added listings to ``dates``
    recomputes: every date (``None``) while the stored summary is empty (a lake written
    before it)."""
    return dates if not dates or _has_rows(run, "topic_daily") else None


def _has_rows(run: Transaction, table: str) -> bool:
    """Whether the lake's ``table`` holds a row (as the run's transaction sees it)."""
    found = run.con.execute(f"SELECT count(*) > 0 FROM (FROM {LAKE}.{table} LIMIT 1)")
    return found.fetchone() == (True,)


def _summary_sql(path: Path) -> str:
    """A summary query with its lake tables named as the run's transaction names them."""
    return _lake_named(path.read_text())


def _lake_named(sql: str) -> str:
    """``sql`` with its lake tables named as the run's transaction names them."""
    return sql.replace("every_paper", f"{LAKE}.papers").replace(
        "stored_words", f"{LAKE}.title_words"
    )


def title_pairs_sql() -> str:
    """``title_pairs.sql`` with the query spelling its tied titles' words in place (the
    words of ``title_words.sql``, with their ``spelling``)."""
    spelled = TITLE_WORDS_SQL.read_text().replace("titles_to_index", "tied_titles")
    return TITLE_PAIRS_SQL.read_text().replace("spelled_tied_titles", f"({spelled})")


def define_title_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define on ``con`` the macros mapping words and paper_ids to the integers
    ``title_words`` stores and back (``macros.sql``), for the title queries."""
    con.execute(TITLE_MACROS_SQL.read_text())


def papers_to_index(run: Transaction, papers: pl.DataFrame) -> pl.DataFrame:
    """The papers (paper_id, title_key, title) whose ``title_words`` a run adds: its new
    ``papers``, or every paper in the lake while its ``title_words`` is empty (a lake written
    before the table existed)."""
    if not papers.height or _has_rows(run, "title_words"):
        return papers.select(list(_NO_PAPERS))
    columns = ", ".join(_NO_PAPERS)
    every = pl.DataFrame(run.con.sql(f"SELECT {columns} FROM {LAKE}.papers"))
    return every.cast(_NO_PAPERS)  # type: ignore[arg-type]


def title_words(run: Transaction, papers: pl.DataFrame) -> pl.DataFrame:
    """The ``title_words`` rows for ``papers``, none of them indexed yet (the words of the
    papers before them in paper_id order already stored: see :func:`summarize`).  DuckDB
    splits the titles (``title_words.sql``), then counts each of their words' stored titles
    (``stored_counts.sql``); :func:`first_titles` keeps each word's first ones.  The titles
    come with ``papers`` (the run's frames), not from the lake: splitting 50 titles of a
    10-year lake cost 0.030 s of CPU reading them from ``papers`` (zstd), 0.008 s without
    (medians of 15, alternated; reading the keys too had cost 0.050)."""
    if not papers.height:
        return pl.DataFrame(schema=_WORDS)
    define_title_macros(run.con)
    with run.registered(titles_to_index=papers.select(list(_NO_PAPERS))):
        sql = TITLE_WORDS_SQL.read_text()
        words = pl.DataFrame(run.con.sql(f"SELECT word, paper_id, is_end FROM ({sql})"))
    with run.registered(indexed_words=words.select(pl.col("word").unique())):
        stored = pl.DataFrame(run.con.sql(_summary_sql(STORED_COUNTS_SQL)))
    counted = words.join(stored, on="word", how="left").with_columns(
        pl.col("n_stored").fill_null(0)
    )
    return first_titles(counted, MAX_BLOCK + 1).cast(_WORDS)  # type: ignore[arg-type]


def first_titles(words: pl.DataFrame, keep: int) -> pl.DataFrame:
    """Of ``words`` (word, paper_id, is_end, n_stored: how many titles of the word are
    stored already; a title's repeated word may come more than once), each word's first
    titles by paper_id, each once, as many as make ``keep`` with the stored ones, in
    (word, paper_id) order.  One sort: a repeat is next to its first row, and a title's rank
    in its word is its distance to the word's first row."""
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    new_word = pl.col("word").ne_missing(pl.col("word").shift(1))
    repeat = ~new_word & pl.col("paper_id").eq_missing(pl.col("paper_id").shift(1))
    nth = index - pl.when(new_word).then(index).forward_fill()
    return (
        words.sort("word", "paper_id")
        .filter(~repeat)
        .filter(nth + pl.col("n_stored") < keep)
        .select(list(_WORDS))
    )


@contextmanager
def title_keys(run: Transaction, papers: pl.DataFrame, words: pl.DataFrame) -> Iterator[None]:
    """``title_keys`` (paper_id, word), a temporary table while the block runs: the blocking
    keys of the titles of ``papers`` and of every title sharing one; ``words``: the
    ``title_words`` rows not stored yet.  DuckDB keeps it (within its memory limit) for
    the pairs of every slice of ``papers``."""
    _store_title_keys(run, papers, words)
    try:
        yield
    finally:
        run.con.execute("DROP TABLE IF EXISTS temp.title_keys")


def _store_title_keys(run: Transaction, papers: pl.DataFrame, words: pl.DataFrame) -> None:
    """Create the temporary table of :func:`title_keys`."""
    define_title_macros(run.con)
    with run.registered(new_papers=papers.select("paper_id"), new_words=words):
        sql = _summary_sql(TITLE_KEYS_SQL)
        with run.bounded(TITLE_KEYS_MEMORY):
            run.con.execute(f"CREATE TEMP TABLE title_keys AS {sql}", {"max_block": MAX_BLOCK})


def title_pairs(
    run: Transaction, papers: pl.DataFrame, words: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Pairs (a < b) with near-identical titles that involve at least one of ``papers``;
    ``words``: the ``title_words`` rows not stored yet (those of :func:`papers_to_index` if
    not given)."""
    if not papers.height:
        return pl.DataFrame(schema=_PAIRS)
    words = title_words(run, papers_to_index(run, papers)) if words is None else words
    with title_keys(run, papers, words):
        return _paired(run, papers)


def _paired(run: Transaction, papers: pl.DataFrame) -> pl.DataFrame:
    """The pairs of :func:`title_pairs` for ``papers``, inside :func:`title_keys`."""
    define_title_macros(run.con)
    with run.registered(new_papers=papers.select("paper_id")):
        rows = run.con.execute(_lake_named(title_pairs_sql())).fetchall()
    return pl.DataFrame(rows, schema=_PAIRS, orient="row")


def month_parts(listings: pl.DataFrame, limit: int) -> list[list[date]]:
    """The months (first days, in order) of ``listings``, cut where their listings pass
    each ``limit`` rows; no part if there are none."""
    counts = listings.group_by(_MONTH).len().sort("listed_on")
    return [months["listed_on"].to_list() for months in _cut(counts, counts["len"], limit)]


def date_parts(listings: pl.DataFrame, limit: int) -> list[list[date]]:
    """The page dates (in order) of ``listings``, cut between the months of
    :func:`month_parts`; no part if there are none."""
    dates = listings.select(pl.col("listed_on").unique().sort())
    return [
        dates.filter(_MONTH.is_in(months))["listed_on"].to_list()
        for months in month_parts(listings, limit)
    ]


def title_slices(papers: pl.DataFrame, limit: int) -> list[pl.DataFrame]:
    """``papers`` in paper_id order, cut where their title keys pass each ``limit`` bytes
    (one empty slice if there are none)."""
    if not papers.height:
        return [papers]
    ordered = papers.sort("paper_id")
    return _cut(ordered, ordered["title_key"].str.len_bytes(), limit)


def _cut(ordered: pl.DataFrame, size: pl.Series, limit: int) -> list[pl.DataFrame]:
    """``ordered`` cut, in order, where the running total of its rows' ``size`` passes each
    ``limit``; no part if it has no rows."""
    part = (size.cum_sum() - size) // limit
    return ordered.with_columns(part.alias("part")).partition_by(
        "part", maintain_order=True, include_key=False
    )


_MONTH = pl.col("listed_on").dt.truncate("1mo")
"""The first day of ``listed_on``'s month."""
_NO_PAPERS = {"paper_id": pl.String, "title_key": pl.String, "title": pl.String}
_KEYPHRASES = {"paper_id": pl.String, "phrase": pl.String, "n_words": pl.Int32}
_TOPIC_DAILY = {
    "topic": pl.String,
    "listed_on": pl.Date,
    "n_papers": pl.Int32,
    "month": pl.Date,
}
_WORDS = {"word": pl.UInt64, "paper_id": pl.UInt64, "is_end": pl.Boolean}
_PAIRS = {"paper_id_a": pl.String, "paper_id_b": pl.String, "similarity": pl.Float64}


def summarize(run: Transaction, new: dict[str, pl.DataFrame]) -> Iterator[tuple[str, pl.DataFrame]]:
    """The summary rows for a run that wrote the rows ``new`` (table -> its new rows), as
    (table, rows) parts to write in order: ``keyphrase_daily`` the page dates of whole
    months of :data:`KEYPHRASE_LISTINGS` listings at a time, ``topic_daily`` (its dates at
    once), then ``title_words`` and ``title_pairs`` a slice of papers at a time
    (:data:`TITLE_SLICE_BYTES`, :data:`PAIR_SLICE_BYTES`).  Words first, slices in paper_id
    order: each slice counts the words stored before it, so a word keeps the same first
    titles as in one pass.  Then pairs, once every word is stored: each slice's blocks are
    those of one pass, and a pair of two new papers, found by the slices of both, is kept by
    the first."""
    listings = new.get("listings", pl.DataFrame(schema={"listed_on": pl.Date}))
    parts = date_parts(listings, KEYPHRASE_LISTINGS)
    for in_part in parts:
        yield "keyphrase_daily", keyphrase_daily(run, in_part)
    dates = [day for in_part in parts for day in in_part]
    yield "topic_daily", topic_daily(run, _topic_dates(run, dates))
    papers = new.get("papers", pl.DataFrame(schema=_NO_PAPERS))
    for part in title_slices(papers_to_index(run, papers), TITLE_SLICE_BYTES):
        yield "title_words", title_words(run, part)
    if not papers.height:
        yield "title_pairs", pl.DataFrame(schema=_PAIRS)
        return
    done = pl.Series("paper_id", [], pl.String)
    with title_keys(run, papers, pl.DataFrame(schema=_WORDS)):
        for part in title_slices(papers, PAIR_SLICE_BYTES):
            pairs = _paired(run, part)
            yield "title_pairs", pairs.filter(~_either_in(done))
            done.append(part["paper_id"])


def _either_in(papers: pl.Series) -> pl.Expr:
    """A pair one of whose papers is in ``papers``."""
    return pl.col("paper_id_a").is_in(papers) | pl.col("paper_id_b").is_in(papers)
