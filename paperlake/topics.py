"""Topic matching against the readable taxonomy in ``taxonomy.yaml``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")


class TaxonomyError(ValueError):
    """The taxonomy file is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    version: str
    """sha256 prefix of the file: tells which taxonomy tagged a published paper."""

    def match(self, text: str) -> list[str]:
        """Names of the topics whose patterns occur in ``text``, in taxonomy order."""
        return [topic.name for topic in self.topics if topic.pattern.search(text)]


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    raw = path.read_bytes()
    try:
        document = yaml.safe_load(raw)
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
        alternation = "|".join(f"(?:{p})" for p in patterns)
        try:
            compiled = re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE)
        except re.error as exc:
            raise TaxonomyError(f"{path}: topic {name!r}: bad pattern: {exc}") from None
        seen.add(name)
        topics.append(Topic(name, compiled))
    return Taxonomy(tuple(topics), hashlib.sha256(raw).hexdigest()[:12])
