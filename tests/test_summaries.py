"""Summary tables stay equal to a full recomputation, run after run (paperlake.summaries)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from paperlake import summaries
from paperlake.lake import LAKE, Warehouse, maintenance
from paperlake.lake.transaction import one_thread
from paperlake.normalize import paper_id, title_key
from paperlake.publish import write_summaries
from paperlake.summaries import (
    MAX_BLOCK,
    first_titles,
    month_parts,
    title_pairs,
    title_slices,
    title_words,
)
from paperlake.views import ensure_database
from tests.conftest import query
from tests.dumps import abstract, dump_bytes, with_typo

# What keyphrase_frequency and possible_duplicates computed on every query before they
# were summarized at ingest: the reference the summaries must always equal.
FULL_KEYPHRASE_FREQUENCY = """
    select k.phrase, d.listed_on, count(*) as n_papers, any_value(k.n_words) as n_words
    from (select distinct listed_on, paper_id from internal.stg_listings) as d
    inner join internal.stg_paper_keyphrases as k using (paper_id)
    group by k.phrase, d.listed_on
    order by all
"""
FULL_TOPIC_FREQUENCY = """
    select t.topic, d.listed_on, count(*) as n_papers
    from (select distinct listed_on, paper_id from internal.stg_listings) as d
    inner join internal.stg_paper_topics as t using (paper_id)
    group by t.topic, d.listed_on
    order by all
"""
FULL_TITLE_PAIRS = """
    with keyed as (
        select paper_id, title_key, left(title_key, 12) as head, right(title_key, 12) as tail
        from internal.stg_papers
    )
    select distinct
        a.paper_id, b.paper_id, round(jaro_winkler_similarity(a.title_key, b.title_key), 4) s
    from keyed as a inner join keyed as b
        on (a.head = b.head or a.tail = b.tail) and a.paper_id < b.paper_id
    where s >= 0.9
    order by all
"""

LISTINGS_SCHEMA = {
    "dump_id": pl.String,
    "listed_on": pl.Date,
    "position": pl.Int32,
    "paper_id": pl.String,
}


def _keyphrase_frequency(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "select phrase, listed_on, n_papers, n_words from keyphrase_frequency order by all",
    )


def _topic_frequency(warehouse: Path) -> list[tuple]:
    return query(warehouse, "select topic, listed_on, n_papers from topic_frequency order by all")


def _pairs(warehouse: Path) -> list[tuple]:
    return query(
        warehouse, "select paper_id_a, paper_id_b, similarity from possible_duplicates order by all"
    )


def _entries(*titles: str) -> list[tuple[str, str]]:
    return [(title, abstract(title.lower())) for title in titles]


def test_summaries_equal_a_full_recomputation_after_every_run(
    tmp_path: Path, prefect_harness: None
) -> None:
    from paperlake.flows.ingest import ingest

    landing = tmp_path / "landing"
    landing.mkdir()
    warehouse = tmp_path / "wh"
    days = [
        # (file, label, titles): a month boundary, a carried-over paper, a near-duplicate
        # title arriving a day later, and the same page date captured twice.
        ("2025-02-28_a.txt", "Feb 28", ["Sparse Attention for Long Contexts", "Federated Bandits"]),
        ("2025-03-01_a.txt", "Mar 1", ["Federated Bandits", "Scaling Laws for O(n) Attention"]),
        (
            "2025-03-02_a.txt",
            "Mar 2",
            ["Scaling Laws for mathcal{O}(n) Attention", "Graph Diffusion Models"],
        ),
        (
            "2025-03-02_b.txt",
            "Mar 2",
            ["Graph Diffusion Models", "Sparse Attention for Long Contexts"],
        ),
    ]
    for name, label, titles in days:
        (landing / name).write_bytes(dump_bytes(_entries(*titles), label=label))
        # no entities in these titles: the page is still drawn (rising entities empty)
        assert ingest(paths=[str(landing)], warehouse=str(warehouse)).dashboard_error is None
        assert _keyphrase_frequency(warehouse) == query(warehouse, FULL_KEYPHRASE_FREQUENCY)
        assert _pairs(warehouse) == query(warehouse, FULL_TITLE_PAIRS)
        assert _topic_frequency(warehouse) == query(warehouse, FULL_TOPIC_FREQUENCY)

    # The date captured twice counts each paper once; "sparse attention" was listed on
    # Feb 28 and, by the second capture only, on Mar 2.
    assert query(
        warehouse,
        "select listed_on, n_papers from keyphrase_frequency "
        "where phrase = 'sparse attention' order by 1",
    ) == [(date(2025, 2, 28), 1), (date(2025, 3, 2), 1)]
    # The near-duplicate that arrived a day after its twin was paired with it.
    pairs = query(warehouse, "select title_a, title_b from possible_duplicates")
    assert [set(pair) for pair in pairs] == [
        {"Scaling Laws for O(n) Attention", "Scaling Laws for mathcal{O}(n) Attention"}
    ]

    # The March month was replaced, not appended to: one row per phrase and day.
    daily = Warehouse(warehouse).scan("keyphrase_daily").collect()
    assert daily.height == daily.select("phrase", "listed_on").n_unique()
    topics = Warehouse(warehouse).scan("topic_daily").collect()
    assert topics.height == topics.select("topic", "listed_on").n_unique() > 0

    # A lake written before topic_daily existed (the table empty, listings in every month):
    # its next run that adds listings summarizes every month, not only its own.
    store = Warehouse(warehouse)
    with store.lock(0), store.session():
        run = store.begin("20250303T000000-test-empty-topic-daily")
        run.replace({"topic_daily": topics.clear()})
        run.commit()
        ensure_database(store, store.current())
    assert _topic_frequency(warehouse) == []
    (landing / "2025-03-03_a.txt").write_bytes(
        dump_bytes(_entries("Federated Bandits"), label="Mar 3")
    )
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    assert {day for _, day, _ in _topic_frequency(warehouse)} >= {date(2025, 2, 28)}
    assert _topic_frequency(warehouse) == query(warehouse, FULL_TOPIC_FREQUENCY)


def _titles(n: int, seed: int) -> list[str]:
    """``n`` distinct titles over a small vocabulary (words cross the 50-title block limit
    as runs add titles), one in ten followed by a near-copy of an earlier one."""
    rng = random.Random(seed)
    vocabulary = [
        f"{a}{b}"
        for a in ("quant", "spars", "graph", "diffus", "token")
        for b in (
            "ized",
            "ing",
            "er",
            "al",
            "ive",
            "ous",
            "ment",
            "ity",
            "ance",
            "ion",
            "ure",
            "ist",
            "ish",
            "less",
            "ful",
            "dom",
        )
    ]
    titles: dict[str, str] = {}
    while len(titles) < n:
        title = " ".join(rng.choice(vocabulary).title() for _ in range(rng.randint(3, 8)))
        if titles and rng.random() < 0.1:
            title = with_typo(rng.choice(list(titles.values())))
        titles.setdefault(title_key(title), title)
    return list(titles.values())


def test_stored_title_words_pair_as_counting_every_title_again(tmp_path: Path) -> None:
    """Runs pairing their new papers through the stored, capped title_words find exactly the
    pairs of the same runs with the words of every title counted again (an empty index)."""
    store = Warehouse(tmp_path / "wh")
    titles = _titles(700, seed=19)
    found = 0
    with store.session():
        for first in range(0, len(titles), 140):
            papers = pl.DataFrame(
                {
                    "paper_id": [paper_id(title_key(t)) for t in titles[first : first + 140]],
                    "title": titles[first : first + 140],
                    "title_key": [title_key(t) for t in titles[first : first + 140]],
                }
            )
            run = store.begin(f"run-{first}")
            run.append({"papers": papers})
            words = title_words(run, papers)
            pairs = title_pairs(run, papers, words)
            run.append({"title_words": words, "title_pairs": pairs})
            run.commit()
            again = store.begin(f"again-{first}")
            again.con.execute(f"DELETE FROM {LAKE}.title_words")
            assert title_pairs(again, papers).equals(pairs)
            again.rollback()
            found += pairs.height
        stored = store.scan("title_words").collect()
    assert found > 20  # the near-copies were paired
    assert stored.group_by("word").len()["len"].max() == MAX_BLOCK + 1  # capped


def test_first_titles_keep_each_words_first_by_paper_id_counting_stored_ones() -> None:
    """A word keeps its first titles by paper_id, as many as fill ``keep`` with those
    stored before (none once it is full); the rows come out in (word, paper_id) order."""
    stored = {"b": 2, "^a": 0, "c": 4, "d": 7}
    rows = [(w, f"{n:04d}", w.startswith("^"), stored[w]) for w in stored for n in range(9)]
    random.Random(5).shuffle(rows)
    words = pl.DataFrame(rows, schema=["word", "paper_id", "is_end", "n_stored"], orient="row")
    kept = first_titles(words, 5)
    assert kept.rows() == [
        *[("^a", f"{n:04d}", True) for n in range(5)],
        *[("b", f"{n:04d}", False) for n in range(3)],
        ("c", "0000", False),
    ]
    assert first_titles(words.clear(), 5).is_empty()


def test_first_titles_keep_a_titles_repeated_word_once() -> None:
    """A title repeating a word gives its row more than once (``title_words.sql`` leaves
    the repeats to ``first_titles``): kept once, it takes one of the word's places."""
    rows = [("learning", paper, False, 0) for paper in ("0001", "0001", "0002", "0003", "0001")]
    words = pl.DataFrame(rows, schema=["word", "paper_id", "is_end", "n_stored"], orient="row")
    assert first_titles(words, 3)["paper_id"].to_list() == ["0001", "0002", "0003"]


def _papers(titles: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "paper_id": [paper_id(title_key(t)) for t in titles],
            "title": titles,
            "title_key": [title_key(t) for t in titles],
        }
    )


def test_title_summaries_in_slices_equal_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """title_words and title_pairs computed a slice of papers at a time (a backfill's) are
    the rows of one pass over all of them: into an empty lake, then on top of stored words."""
    titles = _titles(800, seed=23)
    runs = [_papers(titles[:400]), _papers(titles[400:])]
    assert len(title_slices(runs[1], 1500)) > 5
    tables: list[dict[str, pl.DataFrame]] = []
    for limit in (1 << 30, 1500):
        monkeypatch.setattr(summaries, "TITLE_SLICE_BYTES", limit)
        monkeypatch.setattr(summaries, "PAIR_SLICE_BYTES", limit)
        store = Warehouse(tmp_path / str(limit))
        with store.session():
            for number, papers in enumerate(runs):
                run = store.begin(f"run-{number}")
                run.append({"papers": papers})
                write_summaries(run, {"papers": [papers]})
                run.commit()
            tables.append(
                {
                    name: store.scan(name).drop("run_id", strict=False).collect().sort(pl.all())
                    for name in ("title_words", "title_pairs")
                }
            )
    one_pass, sliced = tables
    assert one_pass["title_pairs"].height > 20  # the near-copies were paired
    for name, rows in one_pass.items():
        assert sliced[name].equals(rows), name


def test_month_parts_cut_where_listings_pass_the_limit() -> None:
    days = [date(2024, 1, 5)] * 3 + [date(2024, 2, 1)] * 2 + [date(2024, 4, 9)] * 4
    listings = pl.DataFrame({"listed_on": days[::-1]})  # any order in, months in order out
    jan, feb, apr = date(2024, 1, 1), date(2024, 2, 1), date(2024, 4, 1)
    assert month_parts(listings, 4) == [[jan, feb], [apr]]
    assert month_parts(listings, 3) == [[jan], [feb, apr]]
    assert month_parts(listings, 1) == [[jan], [feb], [apr]]
    assert month_parts(listings, 100) == [[jan, feb, apr]]
    assert month_parts(listings.clear(), 4) == []


def test_keyphrase_daily_in_parts_equals_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """keyphrase_daily computed a few months at a time (a backfill's) holds the rows of one
    pass over every month, a page date split across two dumps included."""
    rng = random.Random(5)
    phrases = [f"phrase {n}" for n in range(40)]
    papers = [paper_id(f"paper {n}") for n in range(60)]
    keyphrases = pl.DataFrame(
        [(p, phrase, 2) for p in papers for phrase in rng.sample(phrases, 4)],
        schema={"paper_id": pl.String, "phrase": pl.String, "n_words": pl.Int32},
        orient="row",
    )
    days = [date(2024, 1, 1) + (date(2024, 1, 9) - date(2024, 1, 1)) * n for n in range(20)]
    listings = pl.DataFrame(
        [
            (f"{d:%Y%m%d}{dump}".ljust(64, "0"), d, position, p)
            for d in days
            for dump in (0, 1)
            for position, p in enumerate(rng.sample(papers, 8), start=1)
        ],
        schema=LISTINGS_SCHEMA,
        orient="row",
    )
    tables = []
    for limit in (1 << 30, 40):
        monkeypatch.setattr(summaries, "KEYPHRASE_LISTINGS", limit)
        store = Warehouse(tmp_path / str(limit))
        with store.session():
            run = store.begin("run")
            run.append({"listings": listings, "paper_keyphrases": keyphrases})
            write_summaries(run, {"listings": [listings]})
            run.commit()
        tables.append(store.scan("keyphrase_daily").collect().sort(pl.all()))
    assert len(month_parts(listings, 40)) > 2
    one_pass, in_parts = tables
    assert one_pass.height > 100
    assert in_parts.equals(one_pass)


def _listings(dump: int, day: date, papers: list[str]) -> pl.DataFrame:
    """One dump's listings of ``papers`` on the page of ``day``."""
    return pl.DataFrame(
        [(f"{dump:064x}", day, position, p) for position, p in enumerate(papers, start=1)],
        schema=LISTINGS_SCHEMA,
        orient="row",
    )


def _daily_counts(listings: pl.DataFrame, tagged: pl.DataFrame, key: str) -> pl.DataFrame:
    """Distinct papers per (``key``, page date) counted from scratch: the reference."""
    return (
        listings.select("listed_on", "paper_id")
        .unique()
        .join(tagged, on="paper_id")
        .group_by(key, "listed_on")
        .agg(pl.len().cast(pl.Int32).alias("n_papers"))
        .sort(key, "listed_on")
    )


def test_daily_summaries_replace_only_the_page_dates_a_run_listed(tmp_path: Path) -> None:
    """A run adding a new page date to a month with stored days writes only that date's
    rows and deletes nothing; a second dump of a stored date replaces only that date's rows
    (each paper counted once).  Both leave the summaries of a full recomputation."""
    rng = random.Random(7)
    papers = [paper_id(f"paper {n}") for n in range(40)]
    keyphrases = pl.DataFrame(
        [(p, f"phrase {k}", 2) for p in papers for k in rng.sample(range(12), 3)],
        schema={"paper_id": pl.String, "phrase": pl.String, "n_words": pl.Int32},
        orient="row",
    )
    topics = pl.DataFrame(
        [(p, f"topic {t}") for p in papers for t in rng.sample(range(5), 2)],
        schema={"paper_id": pl.String, "topic": pl.String},
        orient="row",
    )
    days = [date(2025, 2, 27), date(2025, 2, 28), date(2025, 3, 1), date(2025, 3, 2)]
    stored = pl.concat([_listings(n, day, rng.sample(papers, 10)) for n, day in enumerate(days)])
    new_day = _listings(10, date(2025, 3, 3), rng.sample(papers, 10))
    first_mar1 = stored.filter(pl.col("listed_on") == date(2025, 3, 1))["paper_id"].to_list()
    others = [p for p in papers if p not in first_mar1]
    # Mar 1 captured again: half the same papers, half others
    again = _listings(11, date(2025, 3, 1), first_mar1[:5] + rng.sample(others, 5))
    store = Warehouse(tmp_path / "wh")
    with store.session() as con:
        run = store.begin("backfill")
        run.append({"listings": stored, "paper_keyphrases": keyphrases, "paper_topics": topics})
        write_summaries(run, {"listings": [stored]})
        run.commit()
        store.maintain()
        listings = stored
        for name, batch in (("new-day", new_day), ("again", again)):
            before = {t: set(store.current().tables[t]) for t in ("keyphrase_daily", "topic_daily")}
            run = store.begin(name)
            run.append({"listings": batch})
            written = write_summaries(run, {"listings": [batch]})
            run.commit()
            # a new date deletes nothing; a date captured again leaves a delete file (asked
            # before anything reads the table: a read in the session rewrites it)
            assert maintenance.Maintenance._has_deleted_rows(con) == (name == "again")
            after = {t: set(store.current().tables[t]) for t in before}
            listings = pl.concat([listings, batch])
            day = batch["listed_on"][0]
            for table, tagged, key in (
                ("keyphrase_daily", keyphrases, "phrase"),
                ("topic_daily", topics, "topic"),
            ):
                full = _daily_counts(listings, tagged, key)
                rows = store.scan(table).collect().select(full.columns).sort(key, "listed_on")
                assert rows.equals(full), (name, table)
                assert written[table] == full.filter(pl.col("listed_on") == day).height
                if name == "new-day":  # every stored file stays current
                    assert before[table] < after[table], table
            store.maintain()


def test_keyphrases_read_by_list_or_by_semi_join_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few papers' keyphrases are read with a list filter, many with a semi-join: the
    same rows either way."""
    papers = [paper_id(f"paper {n}") for n in range(30)]
    keyphrases = pl.DataFrame(
        [(p, f"phrase {n % 7}", 2) for n, p in enumerate(papers)],
        schema={"paper_id": pl.String, "phrase": pl.String, "n_words": pl.Int32},
        orient="row",
    )
    store = Warehouse(tmp_path / "wh")
    with store.session():
        run = store.begin("run")
        run.append({"paper_keyphrases": keyphrases})
        wanted = pl.Series(papers[::2])
        read = []
        for limit in (wanted.len(), wanted.len() - 1):  # a list, then a semi-join
            monkeypatch.setattr(summaries, "PAPER_LIST_MAX", limit)
            read.append(summaries._keyphrases(run, wanted).sort(pl.all()))
        run.rollback()
    assert read[0].equals(read[1])
    assert read[0].equals(
        keyphrases.filter(pl.col("paper_id").is_in(wanted.implode())).sort(pl.all())
    )


def test_a_few_dates_are_summarized_on_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daily run's page dates are summarized on one DuckDB thread (a second one only
    costs CPU on so few rows), a backfill's many on the connection's own; the counts are
    the same, and the connection gets its setting back."""
    inside: list[int] = []

    @contextmanager
    def recording(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        with one_thread(con):
            [(threads,)] = con.execute("SELECT current_setting('threads')").fetchall()
            inside.append(threads)
            yield

    monkeypatch.setattr(summaries, "one_thread", recording)
    rng = random.Random(3)
    papers = [paper_id(f"paper {n}") for n in range(20)]
    topics = pl.DataFrame(
        [(p, f"topic {n % 3}") for n, p in enumerate(papers)],
        schema={"paper_id": pl.String, "topic": pl.String},
        orient="row",
    )
    keyphrases = topics.select("paper_id", phrase="topic", n_words=pl.lit(2, pl.Int32))
    days = [date(2025, 3, d) for d in range(1, summaries.ONE_THREAD_DATES + 3)]
    listings = pl.concat([_listings(n, day, rng.sample(papers, 5)) for n, day in enumerate(days)])
    store = Warehouse(tmp_path / "wh")
    with store.session() as con:
        run = store.begin("run")
        run.append({"listings": listings, "paper_topics": topics, "paper_keyphrases": keyphrases})
        con.execute("SET threads = 4")  # whatever the machine's cores
        default = con.execute("SELECT current_setting('threads')").fetchone()
        threads = {}
        for dates in (days[:1], days[: summaries.ONE_THREAD_DATES], days):
            inside.clear()
            counted = summaries.topic_daily(run, dates).select("topic", "listed_on", "n_papers")
            phrases = summaries.keyphrase_daily(run, dates).select(
                pl.col("phrase").alias("topic"), "listed_on", "n_papers"
            )
            threads[len(dates)] = list(inside)
            full = _daily_counts(listings.filter(pl.col("listed_on").is_in(dates)), topics, "topic")
            for rows in (counted, phrases):
                assert rows.sort("topic", "listed_on").equals(full)
        assert con.execute("SELECT current_setting('threads')").fetchone() == default != (1,)
        run.rollback()
    few = summaries.ONE_THREAD_DATES
    assert threads == {1: [1, 1], few: [1, 1], few + 2: []}
