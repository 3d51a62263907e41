"""Identity and link normalization: pure functions on single strings."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

_NOT_ALNUM = re.compile(r"[\W_]+")  # \W in str patterns is "not str.isalnum() and not _"


def title_key(title: str) -> str:
    """A paper's identity: its title under NFKC, casefolded, letters and digits only.

    ``Order Matters: Sequence to sequence for sets`` and
    ``ORDER MATTERS:  Sequence to Sequence for Sets`` share one key.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", title).casefold())
    return _NOT_ALNUM.sub("", folded)


def paper_id(key: str) -> str:
    """A short, stable id for a title key (16 hex chars of its sha256)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


LinkKind = Literal["repo", "project_page", "other"]

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\"*"
_GITHUB_REPO = re.compile(
    r"https?://(?:www\.)?github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))"
    r"/(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?(?:[/#?].*)?",
    re.IGNORECASE,
)
_GITHUB_PAGES = re.compile(r"https?://[A-Za-z0-9-]+\.github\.io(?:/.*)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    kind: LinkKind
    repo: str | None = None
    """``owner/name`` as written, for GitHub repositories."""


def _strip_url(url: str) -> str:
    # Sentence punctuation clings to URLs at the end of abstracts ("... at https://x/y.").
    # A ")" is kept only when the URL itself opened one, as in Wikipedia-style links.
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def classify_link(raw_url: str) -> Link | None:
    url = _strip_url(raw_url)
    if "://" not in url or url.endswith("://"):
        return None
    repo = _GITHUB_REPO.fullmatch(url)
    if repo is not None:
        name = repo["name"].removesuffix(".git").rstrip(".")
        if name:
            owner_name = f"{repo['owner']}/{name}"
            return Link(f"https://github.com/{owner_name}", "repo", owner_name)
    if _GITHUB_PAGES.fullmatch(url):
        return Link(url, "project_page")
    return Link(url, "other")


def extract_links(text: str) -> list[Link]:
    """Every link in ``text``, normalized, each repo or URL once (case-insensitively)."""
    seen: set[str] = set()
    links: list[Link] = []
    for match in _URL.finditer(text):
        link = classify_link(match.group())
        if link is None:
            continue
        key = (link.repo or link.url).lower()
        if key not in seen:
            seen.add(key)
            links.append(link)
    return links
