"""The analytics judged on the 200 real days in ``<repo>/../shared/real`` (a user's landing
folder, read in place; ``PAPERLAKE_SHARED`` overrides), ingested once by the real flow.

Each test asserts one figure the README's analytics section quotes.
"""

from __future__ import annotations

import csv
import os
import random
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from paperlake.lake import Warehouse
from paperlake.normalize import paper_id, title_key
from paperlake.summaries import title_pairs
from tests.conftest import ROOT, query
from tests.dumps import with_typo
from tests.fixtures import entity_quality

REAL = Path(os.environ.get("PAPERLAKE_SHARED", ROOT.parent / "shared")) / "real"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not REAL.is_dir(), reason=f"no real days at {REAL}"),
]
FIXTURES = ROOT / "tests" / "fixtures"
GITHUB_REPO = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/[A-Za-z0-9._-]{1,100}")
CATCH_ALL = {"large language models", "benchmarks and evaluation", "multimodal and vision-language"}
# Areas a reader files papers under: (what a title naming the area says, the one topic that
# must hold >= 90% of those papers).  Deliberately simpler than the taxonomy's patterns.
AREAS = {
    "video": (r"\bvideos?\b", "video"),
    "robotics": (r"\brobot(?:s|ic|ics)?\b|\bembodied\b|\bvla\b", "robotics and embodied AI"),
    "agents": (r"\bagents?\b|\bagentic\b", "agents and tool use"),
    "speech and audio": (r"\bspeech\b|\baudio\b|\btts\b|\bspoken\b|\bvoice\b", "speech and audio"),
    "3D": (r"\b3d\b|\b4d\b|gaussian splatting|\bpoint clouds?\b", "3D and 4D vision"),
    "RAG": (r"\bretrieval-augmented\b|\brag\b", "retrieval-augmented generation"),
    "GUI agents": (r"\bgui\b|\bcomputer-use\b|\bweb agents?\b", "GUI and web agents"),
    "world models": (r"\bworld models?\b", "world models"),
    "image generation": (
        r"\btext-to-image\b|\bimage (?:generation|editing)\b",
        "image generation and editing",
    ),
    "autonomous driving": (r"\bdriving\b", "autonomous driving"),
    "medicine": (r"\bmedical\b|\bclinical\b|\bhealthcare\b", "medicine and health"),
    "code": (r"\bcode\b(?!-switch)|\bcoding\b|\bsoftware engineering\b", "code generation"),
    "math": (r"\bmath\b|\bmathematical\b", "math reasoning"),
    "diffusion language models": (
        r"\bdiffusion (?:language models?|llms?)\b",
        "diffusion language models",
    ),
}
GENERIC_ACRONYMS = {
    "GUI", "KV", "AR", "RGB", "FPS", "F1", "FID", "T2I", "T2V", "TTS", "ASR", "OCR", "UI",
    "CoT", "MoE", "DiT", "DiTs", "SoTA", "FLOPs", "LRMs", "LMMs", "VLA", "MCTS", "CFG", "H100",
}  # fmt: skip


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    from paperlake.flows.ingest import ingest

    root = tmp_path_factory.mktemp("real") / "warehouse"
    ingest(paths=[str(REAL)], warehouse=str(root))
    return root


def test_all_real_days_load(real: Path) -> None:
    n_files = len(list(REAL.glob("*_real.txt")))
    [(n_dumps, n_quarantined)] = query(
        real, "select (select count(*) from dumps), (select count(*) from quarantine)"
    )
    assert n_files >= 200 and n_dumps == n_files
    assert n_quarantined == 1  # the folder's README.md: no date label


def test_repo_links_against_an_independent_reading(real: Path) -> None:
    with (FIXTURES / "github_gold.tsv").open() as tsv:
        gold_rows = list(csv.DictReader(tsv, delimiter="\t", quoting=csv.QUOTE_NONE))
    gold = {(title_key(row["title"]), row["repo"].lower()) for row in gold_rows}
    last_day = max(row["file"][:10] for row in gold_rows)  # the days the gold script read
    rows = query(
        real,
        "select p.title, l.repo from internal.stg_paper_links as l "
        "join papers as p using (paper_id) "
        "where l.kind = 'repo' and p.first_listed_on <= ?::date",
        [last_day],
    )
    found = {(title_key(title), repo.lower()) for title, repo in rows}
    recall, precision = len(gold & found) / len(gold), len(gold & found) / len(found)
    print(f"repos: {len(gold)} gold pairs, recall {recall:.3f}, precision {precision:.3f}")
    assert len(gold) >= 700
    assert recall >= 0.99 and precision >= 0.99
    repos = [repo for (repo,) in query(real, "select repo from repos")]
    assert repos and all(GITHUB_REPO.fullmatch(repo) for repo in repos)


def test_few_papers_have_no_topic(real: Path) -> None:
    [(n_papers, n_untagged)] = query(
        real,
        "select count(*), count(*) filter (where paper_id not in "
        "(select paper_id from paper_topics)) from papers",
    )
    print(f"untagged: {n_untagged}/{n_papers} = {n_untagged / n_papers:.3f}")
    assert n_untagged / n_papers < 0.03


@pytest.mark.parametrize("area", sorted(AREAS))
def test_each_area_is_held_by_one_specific_topic(real: Path, area: str) -> None:
    title_pattern, topic = AREAS[area]
    assert topic not in CATCH_ALL
    rows = query(
        real,
        "select p.title, list(t.topic) from papers as p "
        "left join paper_topics as t using (paper_id) group by p.paper_id, p.title",
    )
    named = [topics for title, topics in rows if re.search(title_pattern, title.lower())]
    held = sum(1 for topics in named if topic in topics)
    print(f"{area}: {topic!r} holds {held}/{len(named)}")
    assert len(named) >= 10
    assert held / len(named) >= 0.9


def test_the_benchmark_topic_holds_papers_about_evaluation_only(real: Path) -> None:
    """Every paper whose title names a benchmark, and not every paper that reports results
    "on standard benchmarks" (a bare 'benchmarks?' pattern tagged 48% of the papers)."""
    rows = query(
        real,
        "select p.title, count(t.topic) > 0 from papers as p left join paper_topics as t "
        "on t.paper_id = p.paper_id and t.topic = 'benchmarks and evaluation' group by all",
    )
    named = [held for title, held in rows if re.search(r"\bbenchmark", title.lower())]
    share = sum(held for _, held in rows) / len(rows)
    print(f"benchmarks and evaluation: {sum(named)}/{len(named)} named, {share:.3f} of papers")
    assert len(named) >= 100 and all(named)
    assert share < 0.3


def test_no_generic_acronyms_among_the_top_entities(real: Path) -> None:
    top = [
        entity
        for (entity,) in query(
            real, "select entity from entities order by n_papers desc, entity limit 60"
        )
    ]
    assert len(top) == 60
    assert not set(top) & GENERIC_ACRONYMS


def test_entity_precision_and_recall_on_hand_checked_real_days() -> None:
    quality = entity_quality.measure(REAL)
    print(f"entities: precision {quality.precision:.3f}, recall {quality.recall:.3f}")
    assert quality.n_papers == 29
    assert quality.precision >= 0.85
    assert quality.recall >= 0.9


def test_version_and_size_siblings_are_not_duplicates(real: Path) -> None:
    siblings = query(
        real,
        "select a.title, b.title from internal.stg_papers as a join internal.stg_papers as b "
        "on a.paper_id < b.paper_id where jaro_winkler_similarity(a.title_key, b.title_key) >= 0.9 "
        "and list_sort(regexp_extract_all(a.title, '\\d+(?:\\.\\d+)*')) "
        "<> list_sort(regexp_extract_all(b.title, '\\d+(?:\\.\\d+)*'))",
    )
    reported = query(real, "select title_a, title_b from possible_duplicates")
    print(f"siblings: {siblings}; reported pairs: {reported}")
    assert len(siblings) >= 5  # Qwen2.5-Omni / Qwen3-Omni, Keye-VL / Keye-VL 1.5, ...
    assert not {frozenset(pair) for pair in siblings} & {frozenset(pair) for pair in reported}


def _plants(titles: list[str]) -> list[tuple[str, str]]:
    """(near-copy, original): a typo, a LaTeX leftover, a changed subtitle."""

    def latex(title: str) -> str:
        words = title.split()
        words[len(words) // 2] = "\\textbf{" + words[len(words) // 2] + "}"
        return " ".join(words)

    def subtitle(title: str) -> str:
        head, _, tail = title.partition(": ")
        return f"{head}: {' '.join([*tail.split()[:-1], 'Revisited'])}"

    plants = []
    for title in titles:
        plants += [(with_typo(title), title), (latex(title), title)]
        if ": " in title:
            plants.append((subtitle(title), title))
    return [(copy, title) for copy, title in plants if title_key(copy) != title_key(title)]


def test_planted_near_copies_are_found(real: Path, tmp_path: Path) -> None:
    papers = query(
        real, "select paper_id, title, title_key from internal.stg_papers order by paper_id"
    )
    plants = _plants(random.Random(14).sample([title for _, title, _ in papers], 60))
    columns = ["paper_id", "title", "title_key"]
    planted = pl.DataFrame(
        [(paper_id(title_key(copy)), copy, title_key(copy)) for copy, _ in plants],
        schema=columns,
        orient="row",
    )
    store = Warehouse(tmp_path / "wh")
    with store.session():  # the summary runs inside a run's transaction, as at ingest
        run = store.begin("plants")
        run.append(
            {"papers": pl.concat([pl.DataFrame(papers, schema=columns, orient="row"), planted])}
        )
        found = {(a, b) for a, b, _ in title_pairs(run, planted).iter_rows()}
        run.rollback()
    with duckdb.connect() as con:
        similar = [
            (copy, title)
            for copy, title in plants
            if con.execute(
                "select jaro_winkler_similarity(?, ?)", [title_key(copy), title_key(title)]
            ).fetchone()[0]  # type: ignore[index]
            >= 0.9
        ]
    missed = [
        (copy, title)
        for copy, title in similar
        if tuple(sorted((paper_id(title_key(copy)), paper_id(title_key(title))))) not in found
    ]
    print(f"planted near-copies: {len(similar) - len(missed)}/{len(similar)} found")
    assert len(similar) >= 100
    assert missed == []


def test_trending_needs_support_and_its_surest_rise_grew(real: Path) -> None:
    rows = query(real, "select topic, n_recent, growth_lower from trending_topics")
    assert rows and all(n_recent >= 10 for _, n_recent, _ in rows)
    thin = query(
        real,
        "select topic from trending_topics_over(7, min_papers := 1) where n_recent < 10",
    )
    assert thin and not {topic for (topic,) in thin} & {topic for topic, _, _ in rows}
    [(top, n_recent, n_previous, bound)] = query(
        real,
        "select topic, n_recent, n_previous, growth_lower "
        "from trending_topics_over(30, min_papers := 20) "
        "order by growth_lower desc nulls last, n_recent desc, topic limit 1",
    )
    print(f"30-day trend: {top} {n_previous} -> {n_recent}, share grew >= {bound:+.0%}")
    assert bound > 0
