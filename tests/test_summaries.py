"""Summary tables stay equal to a full recomputation, run after run (paperlake.summaries)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from paperlake.flows.ingest import ingest
from paperlake.lake import Warehouse
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

    # The March month was replaced, not appended to: one row per phrase and day.
    daily = Warehouse(warehouse).scan("keyphrase_daily").collect()
    assert daily.height == daily.select("phrase", "listed_on").n_unique()
