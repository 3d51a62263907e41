"""Identity and link normalization: pure functions on single strings."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import polars as pl

from paperlake.keyphrases import word_list

_NOT_ALNUM = re.compile(r"[\W_]+")  # \W in str patterns is "not str.isalnum() and not _"


def title_key(title: str) -> str:
    """A paper's identity: its title under NFKC, casefolded, letters and digits only.

    ``Order Matters: Sequence to sequence for sets`` and
    ``ORDER MATTERS:  Sequence to Sequence for Sets`` share one key.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", title).casefold())
    return _NOT_ALNUM.sub("", folded)


def title_keys(titles: pl.Series) -> pl.Series:
    """:func:`title_key` of every title, in bulk.

    An ASCII title's key is computed in polars: NFKC leaves ASCII as it is, casefolding it
    is lower-casing, and its letters and digits are ``[a-z0-9]`` once lower-cased.  Only the
    other titles go through :func:`title_key` in Python."""
    keys = titles.str.to_lowercase().str.replace_all("[^a-z0-9]+", "")
    unicode = titles.to_frame().select(_not_ascii(pl.first())).to_series()
    if unicode.any():
        keys = keys.scatter(unicode.arg_true(), [title_key(t) for t in titles.filter(unicode)])
    return keys.rename("title_key")


def paper_id(key: str) -> str:
    """A short, stable id for a title key (16 hex chars of its sha256)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


LinkKind = Literal["repo", "project_page", "other"]

# GitHub's naming rules: an owner is 1-39 letters, digits or single inner hyphens; a repository
# name is 1-100 letters, digits, ".", "-" or "_".  Anything else (a LaTeX "{", "\\", ")", a
# "/tree/main" path) ends the name, so leftovers around a link cannot leak into it.  ASCII
# letters only: with Unicode case folding, [A-Za-z] also matched the long s and the Kelvin sign,
# and a repo no contract allows went to quarantine instead of counting as another link.
_OWNER = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"
_NAME = r"[A-Za-z0-9._-]{1,100}"
_NAME_CHAR = r"[A-Za-z0-9._-]"
_GITHUB_REPO = re.compile(
    rf"(?<![\w.-])(?:https?://)?(?:www\.)?github\.com/(?P<owner>{_OWNER})"
    rf"/(?P<name>{_NAME})(?!{_NAME_CHAR})",
    re.IGNORECASE | re.ASCII,
)
# "https://github.com/owner/ name": a link broken by a space after the owner's slash.
_SPLIT_REPO = re.compile(
    rf"(?P<head>github\.com/{_OWNER}/)\s+(?P<name>{_NAME})(?!{_NAME_CHAR})",
    re.IGNORECASE | re.ASCII,
)
_NOT_REPOS = frozenset(
    "about account apps codespaces collections contact customer-stories dashboard enterprise "
    "events explore features issues join login marketplace new notifications orgs pricing "
    "pulls readme search security settings site solutions sponsors topics trending "
    "user-attachments users".split()
)
"""First path segments of github.com that are GitHub's own pages or storage, not owners
(``github.com/user-attachments/assets/<id>``: an image or video pasted into a README or
issue, not the repo ``user-attachments/assets``)."""
_WORDS = word_list("stopwords.txt") | word_list("common_words.txt")
"""English words: after "github.com/owner/ " they continue the sentence, not the link."""
_URL = re.compile(r"https?://[^\s<>\"'`{}\\]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\"*"
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


def _repo_link(match: re.Match[str]) -> Link | None:
    owner = match["owner"]
    name = match["name"].rstrip(".").removesuffix(".git").rstrip(".")
    if not name or owner.lower() in _NOT_REPOS:
        return None
    return Link(f"https://github.com/{owner}/{name}", "repo", f"{owner}/{name}")


def _join_split_repo(match: re.Match[str]) -> str:
    if match["name"].rstrip(".").lower() in _WORDS:
        return match.group()
    return match["head"] + match["name"]


def classify_link(raw_url: str) -> Link | None:
    url = _strip_url(raw_url)
    if "://" not in url or url.endswith("://"):
        return None
    repo = _GITHUB_REPO.match(url)
    link = _repo_link(repo) if repo is not None else None
    if link is not None:
        return link
    if _GITHUB_PAGES.fullmatch(url):
        return Link(url, "project_page")
    return Link(url, "other")


_LINK_HINT = re.compile(r"://|github\.com/", re.IGNORECASE)
"""What every link pattern above needs somewhere in the text (``_URL``'s ``://``, the
repository patterns' ``github.com/``)."""


def may_hold_links(text: str) -> bool:
    """False only when no pattern of :func:`extract_links` can match: most abstracts.

    Plain substring tests where they are exact (ASCII text, where lower-casing is what
    ``re.IGNORECASE`` does); the regex otherwise, whose case folding also maps ``İ`` to ``i``.
    """
    if "://" in text:
        return True
    if text.isascii():
        return "github.com/" in text.lower()
    return _LINK_HINT.search(text) is not None


def may_hold_links_column(text: pl.Expr) -> pl.Expr:
    """:func:`may_hold_links` in bulk, for every ASCII text; True for other texts, which
    :func:`extract_links` checks one by one.  False only where no link can be."""
    return (
        text.str.contains("://", literal=True)
        | text.str.contains(r"(?i-u:github\.com/)")  # ASCII case folding: str.lower()'s
        | _not_ascii(text)
    )


def _not_ascii(text: pl.Expr) -> pl.Expr:
    """Text with a character beyond ASCII (20x faster than a regex scan for one)."""
    return text.str.len_bytes() != text.str.len_chars()


_REPO_MARKER = ("github.com/", len("https://www."))
_URL_MARKER = ("://", len("https"))
"""What :data:`_GITHUB_REPO` (or :data:`_SPLIT_REPO`) and :data:`_URL` need in a match, and
at most how far into the match it comes."""


def _first_possible(text: str, marker: tuple[str, int]) -> int | None:
    """Where a pattern needing ``marker`` can first match in ``text``; None if nowhere.

    Exact for ASCII text, where lower-casing is what ``re.IGNORECASE`` does; other text is
    scanned whole (its case folding also maps ``İ`` to ``i``)."""
    if not text.isascii():
        return 0
    at = text.lower().find(marker[0])
    return None if at < 0 else max(0, at - marker[1])


def _matches(pattern: re.Pattern[str], text: str, marker: tuple[str, int]) -> list[re.Match[str]]:
    """``pattern.finditer(text)``, starting where a match can first be: an abstract's links
    are at its end, and the repository pattern (optional scheme, look-behind) costs ~40 us
    per abstract scanned from the start.  A look-behind still sees the text before."""
    start = _first_possible(text, marker)
    return [] if start is None else list(pattern.finditer(text, start))


def _join_split_repos(text: str) -> str:
    """``_SPLIT_REPO.sub(_join_split_repo, text)``, scanning only from where a match can
    first be: the pattern has no look-behind and starts at ``github.com/``, so the text
    before is left as it is (a scan from the start cost ~0.1 ms per abstract with a link)."""
    start = _first_possible(text, _REPO_MARKER)
    if start is None:
        return text
    return text[:start] + _SPLIT_REPO.sub(_join_split_repo, text[start:])


def extract_links(text: str) -> list[Link]:
    """Every link in ``text``, normalized, in order, each repo or URL once (case-insensitively).

    GitHub repositories are read wherever ``github.com/owner/name`` occurs, with or without a
    scheme, inside LaTeX (``\\url{...}``, ``url{text}``) and across a space after the owner's
    slash; other URLs are cut at braces and backslashes and lose trailing punctuation.
    """
    if not may_hold_links(text):
        return []
    text = _join_split_repos(text)
    found: list[tuple[int, Link]] = []
    repo_starts: set[int] = set()
    for match in _matches(_GITHUB_REPO, text, _REPO_MARKER):
        link = _repo_link(match)
        if link is not None:
            found.append((match.start(), link))
            repo_starts.add(match.start())
    for match in _matches(_URL, text, _URL_MARKER):
        link = None if match.start() in repo_starts else classify_link(match.group())
        if link is not None:
            found.append((match.start(), link))
    seen: set[str] = set()
    links: list[Link] = []
    for _, link in sorted(found, key=lambda pair: pair[0]):
        key = (link.repo or link.url).lower()
        if key not in seen:
            seen.add(key)
            links.append(link)
    return links
