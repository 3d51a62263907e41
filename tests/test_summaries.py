"""Summary tables stay equal to a full recomputation, run after run (paperlake.summaries)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from paperlake.flows.ingest import ingest
from paperlake.lake import Manifest, Warehouse
from paperlake.schemas.tables import SUMMARIES, KeyphraseDaily, polars_schema
from paperlake.views import ensure_database
from tests.conftest import query
from tests.dumps import abstract, dump_bytes

# What keyphrase_frequency and possible_duplicates computed on every query before they
# were summarized at ingest: the reference the summaries must always equal.
FULL_KEYPHRASE_FREQUENCY = """
    select k.phrase, d.listed_on, count(*) as n_papers, any_value(k.n_words) as n_words
    from (select distinct listed_on, paper_id from internal.stg_listings) as d
    inner join internal.stg_paper_keyphrases as k using (paper_id)
    group by k.phrase, d.listed_on
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


def _keyphrase_frequency(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "select phrase, listed_on, n_papers, n_words from keyphrase_frequency order by all",
    )


def _pairs(warehouse: Path) -> list[tuple]:
    return query(
        warehouse, "select paper_id_a, paper_id_b, similarity from possible_duplicates order by all"
    )


def _entries(*titles: str) -> list[tuple[str, str]]:
    return [(title, abstract(title.lower())) for title in titles]


def test_summaries_equal_a_full_recomputation_after_every_run(
    tmp_path: Path, prefect_harness: None
) -> None:
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
        ingest(paths=[str(landing)], warehouse=str(warehouse))
        assert _keyphrase_frequency(warehouse) == query(warehouse, FULL_KEYPHRASE_FREQUENCY)
        assert _pairs(warehouse) == query(warehouse, FULL_TITLE_PAIRS)

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

    # One partition per month; the March month was replaced, not appended to.
    parts = Warehouse(warehouse).current().tables["keyphrase_daily"]
    assert sorted(Path(rel).parent.name for rel in parts) == [
        "month=2025-02-01",
        "month=2025-03-01",
    ]


def test_a_warehouse_without_summaries_gets_them_on_its_next_run(
    tmp_path: Path, prefect_harness: None
) -> None:
    """A warehouse built before the summaries existed: the next run, even with nothing new,
    computes them over everything."""
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "2025-03-14_a.txt").write_bytes(
        dump_bytes(_entries("Sparse Attention for Long Contexts", "Federated Bandits"))
    )
    warehouse = tmp_path / "wh"
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    store = Warehouse(warehouse)
    current = store.current()
    old = Manifest(
        current.version,
        {name: ([] if name in SUMMARIES else files) for name, files in current.tables.items()},
        current.created_at,
        current.run_id,
        {name: n for name, n in current.stats.items() if name not in SUMMARIES},
    )
    ensure_database(store, store.publish(old))
    assert _keyphrase_frequency(warehouse) == []
    ingest(paths=[str(landing)], warehouse=str(warehouse))  # nothing new but the summaries
    assert store.current().tables["keyphrase_daily"]
    assert _keyphrase_frequency(warehouse) == query(warehouse, FULL_KEYPHRASE_FREQUENCY) != []


def test_staging_a_partition_replaces_it_and_keeps_the_others(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)

    def rows(*days: tuple[str, int]) -> pl.DataFrame:
        return pl.DataFrame(
            [
                {
                    "phrase": phrase,
                    "listed_on": date(2025, 3, day) if day else date(2025, 2, 28),
                    "n_papers": 1,
                    "n_words": 1,
                    "month": date(2025, 3, 1) if day else date(2025, 2, 1),
                }
                for phrase, day in days
            ],
            schema=polars_schema(KeyphraseDaily),
        )

    first = store.publish(
        store.stage({"keyphrase_daily": rows(("a", 0), ("a", 1))}, "r1", store.current())
    )
    second = store.publish(store.stage({"keyphrase_daily": rows(("b", 2), ("c", 2))}, "r2", first))
    assert store.scan("keyphrase_daily").collect().sort("phrase")["phrase"].to_list() == [
        "a",
        "b",
        "c",
    ]
    assert second.stats["keyphrase_daily"] == 3
    assert len(second.tables["keyphrase_daily"]) == 2
    assert store.scan("keyphrase_daily", first).collect().height == 2  # history intact
