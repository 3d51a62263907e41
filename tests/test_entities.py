"""Entity extraction rules."""

from __future__ import annotations

import polars as pl
import pytest

from paperlake.entities import (
    EntityMention,
    EntityRole,
    extract_entities,
    is_entity_token,
    tag_entities,
)


@pytest.mark.parametrize(
    "token",
    [
        "RandLoRA",
        "aTLAS",
        "Ptr-Net",
        "Qwen2.5-Math",
        "GPT-3",
        "FedAVG",
        "N-PG-IGT",
        "LLMOPT",
        "CodeGen2",
        "GSM8K",
        "bAbI",
        "SeerAttention-R",
        "FLUX.1",
    ],
)
def test_names(token: str) -> None:
    assert is_entity_token(token)


@pytest.mark.parametrize(
    "token",
    [
        "Learning",
        "Low-Rank",
        "Vision-Language",
        "LLM",
        "LLMs",
        "SGD",
        "MDP",
        "MDPs",
        "LLM-based",
        "NP-hard",
        "seq2seq",
        "mathcal",
        "varepsilon",
        "II",
        "3D",
        "x",
        # generic acronyms and model classes found in real listings: no method, model or data set
        "GUI",
        "KV",
        "AR",
        "RGB",
        "FPS",
        "F1",
        "FID",
        "T2I",
        "MoE",
        "CoT",
        "DiTs",
        "SoTA",
        "FLOPs",
        "LRMs",
        "Multi-Modal",
        "H100",
        "NVIDIA-L20",
        "FP8",
    ],
)
def test_not_names(token: str) -> None:
    assert not is_entity_token(token)


def test_title_prefix_is_introduced() -> None:
    mentions = extract_entities(
        "RandLoRA: Full-rank parameter-efficient fine-tuning of large models",
        "Low-Rank Adaptation (LoRA) and its variants have shown impressive results.",
    )
    roles = {m.entity: m.role for m in mentions}
    assert roles == {"RandLoRA": "introduces", "LoRA": "mentions"}


def test_we_introduce_marks_introduction() -> None:
    roles = {
        m.entity: m.role
        for m in extract_entities(
            "Knowledge Composition",
            "To this end, we introduce aTLAS, an algorithm. It beats GPT-3.",
        )
    }
    assert roles == {"aTLAS": "introduces", "GPT-3": "mentions"}


def test_phrase_title_prefix_is_not_an_entity() -> None:
    assert extract_entities("Order Matters: Sequence to sequence for sets", "We study sets.") == []


def test_urls_do_not_produce_entities() -> None:
    found = extract_entities("A title", "Code: https://github.com/OpenSparseLLMs/Linear-MoE.")
    assert found == []


def test_title_cased_compounds_count_only_when_the_abstract_capitalizes_them() -> None:
    found = {
        m.entity
        for m in extract_entities(
            "High-Fidelity Step-Audio for Layout-Aligned Video",
            "We train Step-Audio with layout-aligned, high-fidelity data.",
        )
    }
    assert "Layout-Aligned" not in found and "High-Fidelity" not in found


def test_one_word_title_prefix_and_its_first_version_are_introduced() -> None:
    durian = extract_entities(
        "Durian: Dual Reference-guided Portrait Animation", "We present Durian."
    )
    assert EntityMention("Durian", "introduces") in durian
    seedance = extract_entities("Seedance 1.0: Exploring Video Generation", "A model.")
    assert EntityMention("Seedance", "introduces") in seedance
    assert not extract_entities("Towards Video Generation: a study", "A model.")


@pytest.mark.parametrize(
    ("title", "abstract", "entity", "role"),
    [
        # later versions and spin-offs of names that exist already (200 real days)
        (
            "SigLIP 2: Multilingual Vision-Language Encoders",
            "We introduce SigLIP 2.",
            "SigLIP",
            "mentions",
        ),
        ("Seedream 4.0: Toward Image Generation", "A model.", "Seedream", "mentions"),
        ("BitNet v2: Native 4-bit Activations", "A model.", "BitNet", "mentions"),
        ("Coding", "We introduce LiveCodeBench Pro, a benchmark.", "LiveCodeBench", "mentions"),
        ("Embeddings", "In this work, we introduce Qwen3 Embedding series.", "Qwen3", "mentions"),
        ("Evaluating", "We introduce InfLLM v2, a sparse attention.", "InfLLM", "mentions"),
        # a first version, a model size or a word for the kind of work: still introduced
        ("Indic", "We introduce BhashaBench V1, a benchmark.", "BhashaBench", "introduces"),
        (
            "Reasoning",
            "This paper introduces FRANK Model, a training-free MLLM.",
            "FRANK",
            "introduces",
        ),
        ("Captions", "We introduce the AnyCap Project.", "AnyCap", "introduces"),
        ("Small models", "We release FooLM 7B, a small model.", "FooLM", "introduces"),
        ("BhashaBench V1: Indic Domains", "A benchmark.", "BhashaBench", "introduces"),
        # a name that ends its sentence, or is followed by a lower-case word, stands alone
        ("Scaling RL", "We propose DAPO. The method scales.", "DAPO", "introduces"),
        ("Adapters", "we propose RandLoRA which adapts.", "RandLoRA", "introduces"),
    ],
)
def test_a_name_continued_by_another_version_or_word_is_mentioned(
    title: str, abstract: str, entity: str, role: EntityRole
) -> None:
    assert EntityMention(entity, role) in extract_entities(title, abstract)


def test_a_batch_finds_what_its_papers_find_alone() -> None:
    """Daily runs and a backfill of the same days must agree: no rule may look across papers
    (a title prefix names its own paper's work, not a word another paper happens to use)."""
    papers = pl.DataFrame(
        {
            "paper_id": ["a", "b"],
            "title": [
                "Seedream 4.0: Toward Next-generation Multimodal Image Generation",
                "Scaling image generation",
            ],
            "abstract": [
                "We animate portraits with RandLoRA adapters.",
                "We present Seedream, a family of bilingual image generation models.",
            ],
        }
    )
    together = tag_entities(papers).sort("paper_id", "entity")
    alone = pl.concat([tag_entities(papers[i : i + 1]) for i in range(2)]).sort(
        "paper_id", "entity"
    )
    assert together.equals(alone)
    # its own title prefix, a later version of it: the name is kept, as mentioned
    assert ("a", "Seedream", "mentions") in together.rows()
    # found in 200 real days: a backfill gave paper b "Seedream" from paper a's title
    assert ("b", "Seedream") not in {(p, e) for p, e, _ in together.rows()}
