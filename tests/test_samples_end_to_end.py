"""Exact answers on the two real sample dumps, through the real flow, Pandera and DuckDB."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from tests.conftest import SAMPLES, query

BOTH_DUMPS = {
    "Oracle Efficient Algorithms for Groupwise Regret",
    "When, Why and How Much? Adaptive Learning Rate Scheduling by Refinement",
    "Learning to Relax: Setting Solver Parameters Across a Sequence of Linear System Instances",
    "Improving Few-Shot Generalization by Exploring and Exploiting Auxiliary Data",
    "Order Matters: Sequence to sequence for sets",
    "Learning to Actively Learn: A Robust Approach",
    "Ensembling Portfolio Strategies for Long-Term Investments: A Distribution-Free Preference "
    "Framework for Decision-Making and Algorithms",
}

REPOS = {
    "chaudatascience/mixturegrowth",
    "salesforce/CodeGen2",
    "miccunifi/iamcl2r",
    "ekinakyurek/google-research",
    "AuroraLHL/OptMATH",
    "OpenSparseLLMs/MoM",
    "OpenSparseLLMs/Linear-MoE",
    "thu-coai/SPaR",
    "Yu-Fangxu/FoR",
    "microsoft/TraceCodegen",
    "imagination-research/lbt",
    "caigaojiang/LLMOPT",
    "minyoungkim21/niwmeta",
    "for-ai/iterative-data-selection",
    "mlfoundations/model-soups",
    "facebookresearch/SEAL",
    "ml-jku/hopfield-layers",
    "antoyang/NAS-Benchmark",
    "RLHFlow/RLHF-Reward-Modeling",
    "RLHFlow/Online-RLHF",
    "mlfoundations/scaling",
}


def test_dumps(sample_warehouse: Path) -> None:
    rows = query(
        sample_warehouse,
        "select source_file, listed_on, captured_on, n_papers from dumps order by source_file",
    )
    assert [(Path(r[0]).name, r[1], r[2], r[3]) for r in rows] == [
        ("000_9cf45ac0ac824760.txt", date(2025, 3, 14), date(2025, 3, 14), 55),
        ("004_60d37dd4bbb87380.txt", date(2025, 3, 14), date(2025, 3, 14), 60),
    ]


def test_n_papers_equals_listings(sample_warehouse: Path) -> None:
    assert query(
        sample_warehouse,
        "select count(*) from dumps d where n_papers <> "
        "(select count(*) from listings l where l.dump_id = d.dump_id)",
    ) == [(0,)]


def test_the_seven_papers_in_both_dumps(sample_warehouse: Path) -> None:
    rows = query(sample_warehouse, "select title, n_dumps, n_listing_days from repeated_listings")
    assert {r[0] for r in rows} == BOTH_DUMPS
    assert {(r[1], r[2]) for r in rows} == {(2, 1)}
    assert query(sample_warehouse, "select count(*) from papers") == [(108,)]


def test_the_21_github_repos(sample_warehouse: Path) -> None:
    rows = query(sample_warehouse, "select repo, url, n_papers from repos")
    assert {r[0] for r in rows} == REPOS
    assert all(r[1] == f"https://github.com/{r[0]}" for r in rows)
    assert not [r for r in rows if r[0].endswith((".", ",", ")", ".git"))]
    assert query(sample_warehouse, "select url from project_pages") == [
        ("https://step-law.github.io/",)
    ]


def test_entities(sample_warehouse: Path) -> None:
    found = dict(query(sample_warehouse, "select entity, n_papers from entities"))
    for name in ["RandLoRA", "LLMOPT", "CodeGen2", "Qwen2.5-Math", "aTLAS", "N-PG-IGT"]:
        assert found.get(name, 0) >= 1, name
    for word in ["LLM", "LLMs", "SGD", "Learning", "Low-Rank", "mathcal"]:
        assert word not in found


def test_federated_learning_on_mar_14(sample_warehouse: Path) -> None:
    assert query(
        sample_warehouse,
        "select n_papers from topic_frequency "
        "where topic = 'federated learning' and listed_on = date '2025-03-14'",
    ) == [(5,)]


def test_nothing_quarantined(sample_warehouse: Path) -> None:
    assert query(sample_warehouse, "select count(*) from quarantine") == [(0,)]


def test_raw_archive_keeps_exact_bytes(sample_warehouse: Path) -> None:
    for archive, source in query(sample_warehouse, "select archive_path, source_file from dumps"):
        assert (sample_warehouse / archive).read_bytes() == Path(source).read_bytes()
        assert Path(source).parent == SAMPLES


def test_views_work_from_another_working_directory(sample_warehouse: Path, tmp_path: Path) -> None:
    script = (
        "import duckdb, json, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(json.dumps([con.execute(f'select count(*) from {v}').fetchone()[0] "
        "for v in ['dumps','listings','papers','repeated_listings','repos','entities',"
        "'topic_frequency','quarantine']]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(sample_warehouse / "paperlake.duckdb")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    counts = json.loads(result.stdout)
    assert counts[:5] == [2, 115, 108, 7, 21]
    assert counts[7] == 0


def test_public_view_columns(sample_warehouse: Path) -> None:
    expected = {
        "dumps": ["dump_id", "source_file", "listed_on", "captured_on", "n_papers", "ingested_at"],
        "listings": ["dump_id", "listed_on", "position", "paper_id"],
        "papers": [
            "paper_id",
            "title",
            "abstract",
            "first_listed_on",
            "last_listed_on",
            "n_dumps",
            "n_listing_days",
        ],
        "repeated_listings": [
            "paper_id",
            "title",
            "n_dumps",
            "n_listing_days",
            "first_listed_on",
            "last_listed_on",
        ],
        "repos": ["repo", "url", "n_papers"],
        "entities": ["entity", "n_papers"],
        "topic_frequency": ["topic", "listed_on", "n_papers"],
        "quarantine": ["source_file", "dump_id", "reason", "detail", "quarantined_at"],
    }
    for view, columns in expected.items():
        rows = query(
            sample_warehouse,
            f"select column_name from information_schema.columns where table_name = '{view}' "
            "order by ordinal_position",
        )
        assert [r[0] for r in rows][: len(columns)] == columns, view
