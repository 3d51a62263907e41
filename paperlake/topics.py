"""Topic matching against the readable taxonomy in ``taxonomy.yaml``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")
_UPPER_OUTSIDE_ESCAPE = re.compile(r"(?<!\\)[A-Z]")


class TaxonomyError(ValueError):
    """The taxonomy file is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    regex: str
    """One pattern for the whole topic, valid in both Python ``re`` and polars (Rust regex),
    matched on lower-cased text (case-insensitive Unicode regex is ~8x slower in Rust)."""
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    version: str
    """sha256 prefix of the file: tells which taxonomy tagged a published paper."""

    def match(self, text: str) -> list[str]:
        """Names of the topics whose patterns occur in ``text``, in taxonomy order."""
        lowered = text.lower()
        return [topic.name for topic in self.topics if topic.pattern.search(lowered)]

    def tag_papers(self, papers: pl.DataFrame) -> pl.DataFrame:
        """(paper_id, topic) for a frame of papers, matched on their title and abstract as one
        text: the title, a newline, the abstract (a pattern ``^[^\\n]*...`` reads the title)."""
        texts = papers.select(
            "paper_id", pl.concat_str("title", "abstract", separator="\n").alias("text")
        )
        return self.tag(texts, key="paper_id", text="text")

    def tag(self, texts: pl.DataFrame, key: str, text: str) -> pl.DataFrame:
        """(``key``, topic) for every row of ``texts`` whose ``text`` matches a topic.

        Vectorized: one Rust regex pass per topic over the whole column, on all cores.
        """
        if texts.height == 0 or not self.topics:
            return pl.DataFrame(schema={key: texts.schema[key], "topic": pl.String})
        lowered = texts.select(key, pl.col(text).str.to_lowercase())
        hits = lowered.select(
            key,
            *(pl.col(text).str.contains(t.regex).alias(str(i)) for i, t in enumerate(self.topics)),
        )
        names = pl.DataFrame(
            {
                "index": [str(i) for i in range(len(self.topics))],
                "topic": [t.name for t in self.topics],
            }
        )
        return (
            hits.unpivot(index=key, variable_name="index", value_name="hit")
            .filter(pl.col("hit"))
            .join(names, on="index", maintain_order="left")
            .select(key, "topic")
        )


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (its wheels are): it parses the bundled
taxonomy, which every run loads, ~7x faster than the pure-Python one."""


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    raw = path.read_bytes()
    try:
        document = yaml.load(raw, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {exc}") from None
    entries = document.get("topics") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{path}: expected a top-level 'topics:' list")
    topics: list[Topic] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        patterns = entry.get("patterns") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise TaxonomyError(f"{path}: topic #{number}: expected a non-empty 'name'")
        if name in seen:
            raise TaxonomyError(f"{path}: topic #{number}: duplicate name {name!r}")
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise TaxonomyError(f"{path}: topic {name!r}: expected a list of 'patterns' strings")
        upper = [p for p in patterns if _UPPER_OUTSIDE_ESCAPE.search(p)]
        if upper:
            raise TaxonomyError(
                f"{path}: topic {name!r}: pattern {upper[0]!r} has capitals; patterns are "
                "matched on lower-cased text, so write them in lower case"
            )
        alternation = "|".join(f"(?:{p})" for p in patterns)
        # ^ as well as \b: a pattern reading the title (^[^\n]*...) also matches one that
        # starts with a sign ("∞Bench: ...", "(Re)Evaluating ..."), where \b does not hold
        regex = rf"(?:^|\b)(?:{alternation})\b"
        try:
            compiled = re.compile(regex)
            pl.select(pl.lit("").str.contains(regex))
        except (re.error, pl.exceptions.ComputeError) as exc:
            raise TaxonomyError(f"{path}: topic {name!r}: bad pattern: {exc}") from None
        seen.add(name)
        topics.append(Topic(name, regex, compiled))
    return Taxonomy(tuple(topics), hashlib.sha256(raw).hexdigest()[:12])
