"""Generate realistic synthetic dumps in the exact dump format, seeded and deterministic.

The vocabulary is learned from the real sample dumps: title words and abstract sentences.
Each day lists 40-70 papers; most stay on the page for a few following days, as on the
real page; ~20% of abstracts link a GitHub repo; some files carry page noise (CRLF line
ends, trailing spaces, extra blank lines).

    python -m bench.generate --days 365 --out bench/out/1y/dumps
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from paperlake.parse import parse_dump

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "dumps"
FIRST_DAY = date(2016, 1, 1)
SCALES = {"1d": 1, "1y": 365, "10y": 3650}
CHROME = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "byAK and the research community",
]
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    title_words: list[str]
    sentences: list[str]
    owners: list[str]


def learn_vocabulary(samples: Path = SAMPLES) -> Vocabulary:
    words: list[str] = []
    sentences: list[str] = []
    for path in sorted(samples.iterdir()):
        for entry in parse_dump(path.read_bytes(), date(2025, 3, 14)).entries:
            words += [w for w in entry.title.replace(":", " ").split() if w.isalpha()]
            sentences += [s for s in _SENTENCE.split(entry.abstract) if "http" not in s]
    owners = sorted({w.lower() for w in words if len(w) > 4})
    return Vocabulary(words, sentences, owners)


@dataclass(slots=True)
class Paper:
    title: str
    abstract: str
    days_left: int


def _new_paper(rng: random.Random, vocab: Vocabulary, serial: int) -> Paper:
    words = rng.choices(vocab.title_words, k=rng.randint(5, 13))
    title = " ".join(words).capitalize()
    if rng.random() < 0.3:  # a named method, like "RandLoRA: ..."
        name = "".join(w.capitalize()[:4] for w in rng.sample(vocab.title_words, 2))
        title = f"{name}{serial % 97}: {title}"
    else:
        title = f"{title} {serial}"  # keep titles distinct across the decade
    abstract = " ".join(rng.sample(vocab.sentences, rng.randint(7, 11)))
    if rng.random() < 0.2:
        owner, name = rng.choice(vocab.owners), rng.choice(vocab.owners)
        abstract += f" Code is available at https://github.com/{owner}/{name}{serial % 50}."
    return Paper(title, abstract, rng.choices([1, 2, 3, 4, 5, 7], [30, 25, 20, 12, 8, 5])[0])


def render_day(rng: random.Random, day: date, papers: list[Paper]) -> bytes:
    blocks = [*CHROME, f"{day:%b} {day.day}"]
    for paper in papers:
        blocks += [paper.title, paper.abstract]
    separator = "\n\n\n" if rng.random() < 0.1 else "\n\n"
    text = separator.join(blocks) + "\n"
    if rng.random() < 0.1:
        text = text.replace("\n", "   \n")
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8")


def generate(days: int, out: Path, seed: int = 7, first_day: date = FIRST_DAY) -> list[Path]:
    """Write ``days`` daily dumps into ``out``; returns their paths in date order."""
    rng = random.Random(seed)
    vocab = learn_vocabulary()
    out.mkdir(parents=True, exist_ok=True)
    on_page: list[Paper] = []
    serial = 0
    paths = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        on_page = [p for p in on_page if p.days_left > 0]
        target = rng.randint(40, 70)
        carried = on_page[: max(0, target - 15)]
        while len(carried) < target:
            serial += 1
            carried.append(_new_paper(rng, vocab, serial))
        rng.shuffle(carried)
        path = out / f"{day.isoformat()}_trending.txt"
        path.write_bytes(render_day(rng, day, carried))
        paths.append(path)
        for paper in carried:
            paper.days_left -= 1
        on_page = carried
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    paths = generate(args.days, args.out, args.seed)
    print(f"wrote {len(paths)} dumps to {args.out}")


if __name__ == "__main__":
    main()
