"""The analytics views and commands on the sample dumps (and small crafted histories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperlake.cli import main
from paperlake.flows.ingest import ingest
from tests.conftest import ROOT, query
from tests.dumps import abstract, dump_bytes

GOLD = ROOT / "tests" / "fixtures" / "entities_gold.txt"


def entity_quality(extracted: set[str]) -> tuple[float, float]:
    gold = {
        line.strip()
        for line in GOLD.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    hits = len(extracted & gold)
    return hits / len(extracted), hits / len(gold)


def test_entity_precision_and_recall(sample_warehouse: Path) -> None:
    extracted = {row[0] for row in query(sample_warehouse, "select entity from entities")}
    precision, recall = entity_quality(extracted)
    print(f"entities: {len(extracted)} extracted, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.78
    assert recall >= 0.95


def test_introduced_entities(sample_warehouse: Path) -> None:
    introduced = {
        row[0]
        for row in query(sample_warehouse, "select entity from entities where n_introducing > 0")
    }
    assert {"RandLoRA", "LLMOPT", "CodeGen2", "aTLAS", "ProSper", "MoDeST", "OptMATH"} <= introduced
    assert "GPT-4" not in introduced and "ImageNet" not in introduced


def test_entity_frequency(sample_warehouse: Path) -> None:
    assert query(
        sample_warehouse,
        "select listed_on, n_papers from entity_frequency where entity = 'GSM8K'",
    ) == [(__import__("datetime").date(2025, 3, 14), 3)]


def test_keyphrases(sample_warehouse: Path) -> None:
    rows = query(
        sample_warehouse,
        "select phrase, sum(n_papers) n from keyphrase_frequency where n_words > 1 "
        "group by phrase order by n desc, phrase limit 3",
    )
    assert rows == [
        ("language models", 5),
        ("in-context learning", 4),
        ("function approximation", 3),
    ]
    phrases = {r[0] for r in query(sample_warehouse, "select phrase from keyphrase_frequency")}
    latex = {"mathcal", "scriptsize", "varepsilon"}
    assert not {w for p in phrases for w in p.split()} & latex
    edges = {w for p in phrases for w in (p.split()[0], p.split()[-1])}
    assert not edges & {"the", "of", "a", "and", "for", "with"}
    assert "federated learning" in phrases


def test_papers_without_code(sample_warehouse: Path) -> None:
    assert query(
        sample_warehouse,
        "select n_papers, n_without_code, share_without_code from papers_without_code",
    ) == [(108, 89, 0.8241)]


def test_repos_with_first_and_last_seen(sample_warehouse: Path) -> None:
    rows = query(
        sample_warehouse,
        "select repo, first_listed_on, last_listed_on, n_listings "
        "from repos where repo = 'salesforce/CodeGen2'",
    )
    assert len(rows) == 1 and rows[0][3] == 1


def test_search_ranks_federated_papers_first(sample_warehouse: Path) -> None:
    rows = query(
        sample_warehouse, "select title from search_papers(['federated', 'learning'], k := 5)"
    )
    assert len(rows) == 5
    assert all("Federated" in r[0] or "Decentralized" in r[0] for r in rows)
    # a phrase, as an analyst types it: lower-cased and split (it found nothing)
    phrase = "select title from search_papers(['  Federated Learning'], k := 5)"
    assert sorted(query(sample_warehouse, phrase)) == sorted(rows)


def test_search_command(sample_warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--warehouse",
            str(sample_warehouse),
            "search",
            "Mixture of Memories",
            "--limit",
            "3",
            "--format",
            "csv",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("title,score")
    assert lines[1].startswith("MoM: Linear Sequence Modeling with Mixture-of-Memories")


def test_trending_topics_with_short_history(sample_warehouse: Path) -> None:
    rows = query(
        sample_warehouse,
        "select topic, n_recent, n_previous, growth, history_days "
        "from trending_topics_over(7, min_papers := 1) where topic = 'federated learning'",
    )
    assert rows == [("federated learning", 5, 0, None, 1)]


DISTINCT_TITLES = [
    "Anarchic clients",
    "Robust aggregation",
    "Personalized heads",
    "Secure updates",
    "Client drift",
    "Sparse communication",
    "Vertical partitions",
    "Fair participation",
]


def _day(titles: list[str], label: str) -> bytes:
    return dump_bytes(
        [(f"{title} in federated learning", abstract("federated learning")) for title in titles],
        label=label,
    )


def test_trending_topics_growth_and_possible_duplicates(
    tmp_path: Path, prefect_harness: None
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "2025-03-01_a.txt").write_bytes(_day(DISTINCT_TITLES[6:], label="Mar 1"))
    (landing / "2025-03-14_b.txt").write_bytes(_day(DISTINCT_TITLES[:6], label="Mar 14"))
    (landing / "2025-03-14_c.txt").write_bytes(
        dump_bytes(
            [
                ("Scaling Laws for mathcal{O}(n) Attention", abstract("scaling laws")),
                ("Scaling Laws for O(n) Attention", abstract("scaling laws again")),
            ],
            label="Mar 14",
        )
    )
    warehouse = tmp_path / "wh"
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    rows = query(
        warehouse,
        "select n_recent, n_previous, share_recent, share_previous, growth, history_days from "
        "trending_topics_over(7, min_papers := 1) where topic = 'federated learning'",
    )
    # three times the papers, but a smaller share: 6 of the 8 papers listed on Mar 14, all 2
    # of Mar 1's; growth is the share's (6/8) / (2/2) - 1, not the count's 6 / 2 - 1
    assert rows == [(6, 2, 0.75, 1.0, -0.25, 14)]
    [(title_a, title_b, similarity)] = query(
        warehouse, "select title_a, title_b, similarity from possible_duplicates"
    )
    assert {title_a, title_b} == {
        "Scaling Laws for mathcal{O}(n) Attention",
        "Scaling Laws for O(n) Attention",
    }
    assert 0.9 <= similarity < 1


def test_retopic_applies_an_edited_taxonomy(tmp_path: Path, prefect_harness: None) -> None:
    from paperlake.flows.ingest import retopic
    from paperlake.topics import load_taxonomy

    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "2025-03-14_a.txt").write_bytes(
        dump_bytes(
            [
                ("Order Matters: Sequence to sequence for sets", abstract("set functions")),
                ("Anarchic Federated Learning", abstract("federated learning")),
            ]
        )
    )
    warehouse = tmp_path / "wh"
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    edited = tmp_path / "topics.yaml"
    edited.write_text("topics:\n  - name: sets\n    patterns: ['sets?']\n")
    summary = retopic(warehouse=str(warehouse), taxonomy=str(edited))
    assert summary.rows["paper_topics"] == 1
    assert query(warehouse, "select topic, n_papers from topic_frequency") == [("sets", 1)]
    assert query(warehouse, "select distinct taxonomy_version from internal.stg_papers") == [
        (load_taxonomy(edited).version,)
    ]
    assert query(warehouse, "select count(*) from listings") == [(2,)]

    # The next day's run without the edited taxonomy tagged its papers with the bundled
    # one, silently: topic counts mixing two taxonomies.  It says so; with it, nothing.
    (landing / "2025-03-15_b.txt").write_bytes(
        dump_bytes([("Sets of sets", abstract("nested sets"))], label="Mar 15")
    )
    mixed = ingest(paths=[str(landing)], warehouse=str(warehouse))
    [said] = [line for line in mixed.lines() if "TAXONOMY" in line]
    assert "new papers tagged with the bundled taxonomy" in said
    assert f"the published ones with version {load_taxonomy(edited).version}" in said
    (landing / "2025-03-16_c.txt").write_bytes(
        dump_bytes([("Sets and bags", abstract("multisets"))], label="Mar 16")
    )
    retopic(warehouse=str(warehouse), taxonomy=str(edited))
    same = ingest(paths=[str(landing)], warehouse=str(warehouse), taxonomy=str(edited))
    assert same.rows["papers"] == 1 and not [line for line in same.lines() if "TAXONOMY" in line]
    assert query(warehouse, "select distinct taxonomy_version from internal.stg_papers") == [
        (load_taxonomy(edited).version,)
    ]


def test_title_pairs_skip_versions_sizes_and_variants(tmp_path: Path) -> None:
    import polars as pl

    from paperlake.normalize import paper_id, title_key
    from paperlake.summaries import title_pairs

    titles = [
        "Qwen2.5-Omni Technical Report",
        "Qwen3-Omni Technical Report",
        "Qwen3 Technical Report",
        "Kwai Keye-VL Technical Report",
        "Kwai Keye-VL 1.5 Technical Report",
        "Scaling a 7B Model for Long Video Understanding",
        "Scaling a 13B Model for Long Video Understanding",
        "Paper2Code: Automating Code Generation from Scientific Papers",
        "Paper2Video: Automating Video Generation from Scientific Papers",
        # true near-copies: a typo in the name, a LaTeX leftover
        "AppAgentX: Evolving GUI Agents as Proficient Smartphone Users",
        "AppAgnetX: Evolving GUI Agents as Proficient Smartphone Users",
        "Large Language Diffusion Models",
        "Large Language \\textbf{Diffusion} Models",
    ]
    from paperlake.lake import Warehouse

    papers = pl.DataFrame(
        {
            "paper_id": [paper_id(title_key(t)) for t in titles],
            "title": titles,
            "title_key": [title_key(t) for t in titles],
        }
    )
    by_id = {paper_id(title_key(t)): t for t in titles}
    store = Warehouse(tmp_path / "wh")
    with store.session():  # the summary runs inside a run's transaction, as at ingest
        run = store.begin("r1")
        run.append({"papers": papers})
        found = title_pairs(run, papers)
        run.rollback()
    pairs = {frozenset((by_id[a], by_id[b])) for a, b, _ in found.iter_rows()}
    assert pairs == {frozenset(titles[9:11]), frozenset(titles[11:13])}


def test_papers_join_repos_and_entities_through_public_views(sample_warehouse: Path) -> None:
    """An analyst joining papers with repos or entities needed the internal staging
    views; ``paper_repos`` and ``paper_entities`` hold the pairs, keyed as both sides."""
    repos = "select sum(n_papers) from repos"
    paired = "select count(*) from paper_repos join repos using (repo) join papers using (paper_id)"
    assert query(sample_warehouse, paired) == query(sample_warehouse, repos) != [(0,)]
    entities = "select sum(n_papers) from entities"
    named = (
        "select count(*) from paper_entities join entities using (entity) "
        "join papers using (paper_id)"
    )
    assert query(sample_warehouse, named) == query(sample_warehouse, entities) != [(0,)]
