"""Paper identity and link normalization."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperlake.normalize import (
    _GITHUB_REPO,
    _REPO_MARKER,
    _SPLIT_REPO,
    _URL,
    _URL_MARKER,
    Link,
    _join_split_repo,
    _join_split_repos,
    _matches,
    classify_link,
    extract_links,
    may_hold_links,
    may_hold_links_column,
    paper_id,
    title_key,
    title_keys,
)


@pytest.mark.parametrize(
    "a, b",
    [
        (
            "Order Matters: Sequence to sequence for sets",
            "ORDER MATTERS:  Sequence to Sequence for Sets",
        ),
        ("Ｆｕｌｌｗｉｄｔｈ Title", "Fullwidth title"),  # NFKC
        ("Straße der Modelle", "STRASSE DER MODELLE"),  # casefold, not lower
        ("Learning-to-Rank", "Learning to rank"),
        ("ﬁne-tuning", "fine tuning"),  # ligature
    ],
)
def test_same_paper(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)
    assert paper_id(title_key(a)) == paper_id(title_key(b))


def test_different_papers_differ() -> None:
    assert title_key("GPT-3 scaling") != title_key("GPT-4 scaling")


def test_title_key_is_letters_and_digits_only() -> None:
    assert title_key("Qwen2.5-Math: A Model!") == "qwen25mathamodel"
    assert title_key("?!…") == ""


TITLES = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=127), max_size=40),
    st.lists(st.sampled_from(["Straße", "ﬁne", "Ｆｕｌｌ", "GPT-3", "_x_", " ", "İ", "a"])).map(
        "".join
    ),
)


@given(st.lists(TITLES, max_size=8))
def test_title_keys_in_bulk_are_title_key_of_each(titles: list[str]) -> None:
    """The polars path for ASCII titles gives exactly the Python rule's keys."""
    keys = title_keys(pl.Series(titles, dtype=pl.String))
    assert keys.to_list() == [title_key(title) for title in titles]


def test_paper_id_is_16_hex() -> None:
    pid = paper_id("ordermatters")
    assert len(pid) == 16 and int(pid, 16) >= 0


@pytest.mark.parametrize(
    "url, repo",
    [
        ("https://github.com/salesforce/CodeGen2.", "salesforce/CodeGen2"),
        ("https://github.com/a/b.git", "a/b"),
        ("https://github.com/a/b.git.", "a/b"),
        ("https://github.com/a/b,", "a/b"),
        ("https://github.com/a/b)", "a/b"),
        ("https://github.com/a/b).", "a/b"),
        (
            "https://github.com/ekinakyurek/google-research/blob/master/incontext.",
            "ekinakyurek/google-research",
        ),
        ("https://github.com/A/B/tree/main/sub/dir", "A/B"),
        ("https://www.github.com/a/b#readme", "a/b"),
        ("http://github.com/a/b?tab=readme", "a/b"),
        ("https://github.com/a/my.repo", "a/my.repo"),
    ],
)
def test_github_repo_normalization(url: str, repo: str) -> None:
    link = classify_link(url)
    assert link == Link(f"https://github.com/{repo}", "repo", repo)


def test_github_io_is_a_project_page_not_a_repo() -> None:
    assert classify_link("https://step-law.github.io/.") == Link(
        "https://step-law.github.io/", "project_page"
    )


def test_github_profile_and_other_sites_are_other_links() -> None:
    assert classify_link("https://github.com/someone").kind == "other"  # type: ignore[union-attr]
    assert classify_link("https://arxiv.org/abs/1.2.") == Link("https://arxiv.org/abs/1.2", "other")


def test_parenthesized_url_keeps_its_own_parenthesis() -> None:
    assert classify_link("https://en.wikipedia.org/wiki/Foo_(bar)").url.endswith("(bar)")  # type: ignore[union-attr]


def test_links_in_text_deduplicated_case_insensitively() -> None:
    text = (
        "Code is available at https://github.com/A/B. See also https://github.com/a/b "
        "and (https://x.github.io/)."
    )
    assert [(link.kind, link.repo or link.url) for link in extract_links(text)] == [
        ("repo", "A/B"),
        ("project_page", "https://x.github.io/"),
    ]


@pytest.mark.parametrize(
    "text, repos",
    [
        # LaTeX leftovers glued to the link
        ("at https://github.com/a/VideoRoPE{https://github.com/a/VideoRoPE}.", ["a/VideoRoPE"]),
        ("at https://github.com/a/b{this url}.", ["a/b"]),
        ("see \\url{https://github.com/a/b}.", ["a/b"]),
        ("see \\href{https://github.com/a/b}{code}", ["a/b"]),
        ("at https://github.com/a/Awesome{other/Awesome}.", ["a/Awesome"]),
        # paths, trailing punctuation, .git
        ("at https://github.com/a/b/tree/main/examples/x.", ["a/b"]),
        ("at https://github.com/a/b/blob/main/README.md;", ["a/b"]),
        ("at https://github.com/a/MARS/MARS_M.", ["a/MARS"]),
        ("(https://github.com/a/SWE-Flow).", ["a/SWE-Flow"]),
        ("at https://github.com/a/b.git.", ["a/b"]),
        ("at https://github.com/a/CodeSteer-v1.0.", ["a/CodeSteer-v1.0"]),
        ("at https://github.com/a/Data_Synthesis_RL/.", ["a/Data_Synthesis_RL"]),
        # no scheme; a link split by a space after the owner's slash
        ("codebase at github.com/a/opengvl{OpenGVL}.", ["a/opengvl"]),
        ("available at https://github.com/lingo-iitgn/ eka-eval and", ["lingo-iitgn/eka-eval"]),
        ("our page https://github.com/ws/ which lists", []),
        # profiles, GitHub's own pages, other hosts: no repo
        ("at https://github.com/MiniMax-AI.", []),
        ("see https://github.com/orgs/x/repositories", []),
        (
            "demo: https://github.com/user-attachments/assets/0f3c2a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f",
            [],
        ),
        ("see https://github.com/notifications/x and https://github.com/a/b", ["a/b"]),
        ("see https://gist.github.com/a/0123abcd and notgithub.com/a/b", []),
        ("see https://github.com/-bad/x and https://github.com/a/b%20c", ["a/b"]),
        # look-alike letters (long s, Kelvin sign) are no GitHub name: another link
        ("code at https://github.com/\u017ftanford/\u212aelvin-repo and", []),
    ],
)
def test_repos_in_real_world_link_spellings(text: str, repos: list[str]) -> None:
    found = [link.repo for link in extract_links(text) if link.kind == "repo"]
    assert found == repos


def test_other_urls_are_cut_at_latex_braces() -> None:
    [link] = extract_links("data at https://huggingface.co/datasets/x{here}.")
    assert link == Link("https://huggingface.co/datasets/x", "other")


LINKISH = st.text(alphabet=st.sampled_from(list("githubcomGITHUBCOMsSpPwW/:. -_İıKkſ\u212a")))


@given(st.one_of(LINKISH, st.text(max_size=40)))
def test_only_texts_no_link_pattern_matches_skip_link_extraction(text: str) -> None:
    """The fast path of extract_links: a text it skips is one no link pattern matches."""
    if not may_hold_links(text):
        assert not any(p.search(text) for p in (_GITHUB_REPO, _SPLIT_REPO, _URL)), text


@given(st.lists(st.one_of(LINKISH, st.text(max_size=40)), max_size=8))
def test_link_prefilter_in_bulk_skips_only_texts_without_links(texts: list[str]) -> None:
    """Texts the polars prefilter of paper_links drops are texts may_hold_links skips."""
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    kept = frame.select(may_hold_links_column(pl.col("text")))["text"].to_list()
    for text, keep in zip(texts, kept, strict=True):
        assert keep or not may_hold_links(text), text
        assert keep == may_hold_links(text) or not text.isascii(), text


SPLIT_PIECES = st.sampled_from(
    ["https://", "github.com/", "GitHub.COM/", "www.", "owner", "/", " ", "\n", "repo", "the", "x-"]
)
LINK_PIECES = st.sampled_from(
    ["https://", "HTTP://", "github.com/", "GitHub.COM/", "www.", "a", "b-", "/", " ", ".", "x{"]
)


@given(st.one_of(LINKISH, st.lists(LINK_PIECES, max_size=30).map("".join)))
def test_link_scans_start_where_a_match_can_first_be(text: str) -> None:
    """extract_links scans from the first place a link pattern can match: same matches."""
    for pattern, marker in (
        (_GITHUB_REPO, _REPO_MARKER),
        (_SPLIT_REPO, _REPO_MARKER),
        (_URL, _URL_MARKER),
    ):
        found = [m.span() for m in _matches(pattern, text, marker)]
        assert found == [m.span() for m in pattern.finditer(text)]


@given(st.one_of(LINKISH, st.lists(SPLIT_PIECES, max_size=30).map("".join)))
def test_split_repos_are_joined_as_a_scan_of_the_whole_text_would(text: str) -> None:
    assert _join_split_repos(text) == _SPLIT_REPO.sub(_join_split_repo, text)


@pytest.mark.parametrize(
    "text", ["GİTHUB.com/a/b", "gıthub.com/ab/cd", "GitHub.COM/a/b", "HTTPS://x.org", "x ://"]
)
def test_case_folded_links_are_not_skipped(text: str) -> None:
    assert may_hold_links(text)
