"""The topic taxonomy: loading, word boundaries, and precision on the sample dumps."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from paperlake.topics import TaxonomyError, load_taxonomy

TAXONOMY = load_taxonomy()


def test_taxonomy_is_large_and_readable() -> None:
    names = [topic.name for topic in TAXONOMY.topics]
    assert len(names) >= 40
    for required in [
        "federated learning",
        "in-context learning",
        "bandits",
        "LLM reasoning",
        "optimization",
        "model merging",
        "scaling laws",
        "mixture of experts",
    ]:
        assert required in names


@pytest.mark.parametrize(
    "text, topic, expected",
    [
        ("Anarchic Federated Learning", "federated learning", True),
        ("Federated averaging with FedAvg", "federated learning", True),
        ("a confederated approach", "federated learning", False),
        ("Contextual bandits with regret", "bandits", True),
        ("a bandit algorithm", "bandits", True),
        ("in-context learning of transformers", "in-context learning", True),
        ("context learning", "in-context learning", False),
        ("a mixture-of-experts router", "mixture of experts", True),
        ("Mixture of Experts (MoE)", "mixture of experts", True),
        ("the homoeopathic model", "mixture of experts", False),
        ("we merge models trained on different tasks", "model merging", True),
    ],
)
def test_word_boundary_matching(text: str, topic: str, expected: bool) -> None:
    assert (topic in TAXONOMY.match(text)) is expected


BENCHMARKS = "benchmarks and evaluation"


@pytest.mark.parametrize(
    "title, abstract, expected",
    [
        # the paper is about evaluation: its title names it, or its abstract contributes one
        ("PRISM-Bench: Puzzle-Based Visual Tasks", "We study puzzles.", True),
        ("Benchmarking LLMs' Swarm Intelligence", "We study swarms.", True),
        ("Evaluating Multi-View Understanding", "We study views.", True),
        ("Measure Up", "We introduce MeasureBench, a benchmark on visual measurement.", True),
        ("Spatial Tasks", "We propose a new spatial reasoning benchmark with 5k items.", True),
        ("Code Agents", "Existing benchmarks fall short on long tasks. We fix that.", True),
        ("∞Bench: Long Context Tasks", "We study contexts.", True),  # a title starting with a sign
        ("(Re)Evaluating LLM Judges", "We study judges.", True),
        # results reported on benchmarks, or a benchmark named in the abstract only: a method
        ("A Faster Optimizer", "Experiments on five benchmarks show consistent gains.", False),
        ("Better Reasoning", "It improves results on challenging reasoning benchmarks.", False),
        ("Better Agents", "It is state of the art on the SWE-bench benchmark.", False),
        ("Better Search", "We present extensive experiments on three benchmarks.", False),
        ("Better Plans", "Results on benchmarks spanning ten domains improve.", False),
    ],
)
def test_benchmark_topic_means_a_paper_about_evaluation(
    title: str, abstract: str, expected: bool
) -> None:
    papers = pl.DataFrame({"paper_id": ["p"], "title": [title], "abstract": [abstract]})
    tagged = TAXONOMY.tag_papers(papers)["topic"].to_list()
    assert (BENCHMARKS in tagged) is expected
    assert (BENCHMARKS in TAXONOMY.match(f"{title}\n{abstract}")) is expected


def test_bad_taxonomy_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("topics:\n  - name: x\n    patterns: ['(unclosed']\n")
    with pytest.raises(TaxonomyError, match=r"t.yaml: topic 'x': bad pattern"):
        load_taxonomy(bad)
    bad.write_text("nope: 1\n")
    with pytest.raises(TaxonomyError, match="expected a top-level 'topics:' list"):
        load_taxonomy(bad)


def test_capitals_in_patterns_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("topics:\n  - name: x\n    patterns: ['LoRA', '\\\\S+']\n")
    with pytest.raises(TaxonomyError, match="'LoRA' has capitals"):
        load_taxonomy(bad)


def test_vectorized_tagging_agrees_with_single_text_matching() -> None:
    from datetime import date

    from paperlake.parse import parse_dump
    from tests.conftest import SAMPLES

    rows = [
        (f"{path.name}:{e.position}", f"{e.title}\n{e.abstract}")
        for path in sorted(SAMPLES.iterdir())
        for e in parse_dump(path.read_bytes(), date(2025, 3, 14)).entries
    ]
    frame = pl.DataFrame(rows, schema=["key", "text"], orient="row")
    tagged = set(TAXONOMY.tag(frame, key="key", text="text").iter_rows())
    expected = {(key, topic) for key, text in rows for topic in TAXONOMY.match(text)}
    assert tagged == expected
    assert len(expected) > 300


# Precision on the samples: every paper tagged with these topics really is about them, and
# near misses (the word in another sense) are not tagged.
SAMPLE_TOPICS = {
    "federated learning": 5,
    "in-context learning": 6,
    "bandits": 10,
    "mixture of experts": 2,
    "model merging": 6,
}


def test_topic_counts_on_the_samples(sample_warehouse: Path) -> None:
    from tests.conftest import query

    counts = dict(
        query(sample_warehouse, "select topic, sum(n_papers) from topic_frequency group by topic")
    )
    assert {topic: counts.get(topic) for topic in SAMPLE_TOPICS} == SAMPLE_TOPICS


@pytest.mark.parametrize(
    "text, topic, expected",
    [
        ("we derive regret bounds for online convex optimization", "online learning", True),
        ("a model of the expert's decision", "mixture of experts", False),
        ("we merge the two datasets", "model merging", False),
        ("a context for learning", "in-context learning", False),
        ("the federal learning agency", "federated learning", False),
        ("an adapter-free method", "LoRA and PEFT", True),
        ("the drop in performance", "RLHF and preference optimization", False),
        ("we use rag to index", "retrieval-augmented generation", True),
        ("a fragment of the image", "retrieval-augmented generation", False),
    ],
)
def test_near_misses(text: str, topic: str, expected: bool) -> None:
    assert (topic in TAXONOMY.match(text)) is expected
