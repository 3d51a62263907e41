"""Builders for small synthetic dumps in the exact format of the real ones."""

from __future__ import annotations

CHROME = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "byAK and the research community",
]


def abstract(topic: str = "sparse attention") -> str:
    """A realistic abstract: several sentences, well over the 200-character mark."""
    return (
        f"We study {topic} in large models. Existing methods trade accuracy for memory and "
        f"scale poorly with sequence length. We propose a simple estimator that removes this "
        f"trade-off. Experiments on five benchmarks show consistent gains over strong baselines."
    )


def render(
    entries: list[tuple[str, str]],
    label: str = "Mar 14",
    chrome: list[str] | None = None,
    newline: str = "\n",
) -> str:
    blocks = [*(CHROME if chrome is None else chrome), label]
    for title, text in entries:
        blocks += [title, text]
    return (newline * 2).join(blocks) + newline


def dump_bytes(entries: list[tuple[str, str]], **kwargs: object) -> bytes:
    return render(entries, **kwargs).encode("utf-8")  # type: ignore[arg-type]


PAPERS = [
    ("RandLoRA: Full-rank parameter-efficient fine-tuning", abstract("low-rank adapters")),
    ("Anarchic Federated Learning", abstract("federated learning with anarchic clients")),
    ("Order Matters: Sequence to sequence for sets", abstract("sequence to sequence models")),
]


def with_typo(title: str) -> str:
    """``title`` with two letters swapped in its longest word: a planted near-copy."""
    words = title.split()
    i = max(range(len(words)), key=lambda j: len(words[j]))
    w, k = words[i], len(words[i]) // 2
    words[i] = w[: k - 1] + w[k] + w[k - 1] + w[k + 1 :]
    return " ".join(words)
