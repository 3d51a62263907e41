"""The normalize stage: one pure function per output table."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import polars as pl

from paperlake import frames
from paperlake.archive import RawDump
from paperlake.parse import ParsedDump, parse_dump
from paperlake.topics import load_taxonomy
from tests.dumps import PAPERS, abstract, dump_bytes

CAPTURED = date(2025, 3, 14)
TAXONOMY = load_taxonomy()


def parsed(*days: list[tuple[str, str]]) -> dict[str, ParsedDump]:
    out = {}
    for entries in days:
        data = dump_bytes(entries)
        out[hashlib.sha256(data).hexdigest()] = parse_dump(data, CAPTURED)
    return out


def test_titles_that_differ_only_in_case_and_spacing_are_one_paper() -> None:
    title = PAPERS[2][0]
    variant = "ORDER MATTERS:  Sequence to Sequence for Sets"
    entries = frames.entries(parsed([(title, abstract()), (variant, abstract())]))
    assert entries["title"].to_list() == [title, "ORDER MATTERS: Sequence to Sequence for Sets"]
    assert entries["paper_id"].n_unique() == 1
    assert frames.first_listing(entries)["position"].to_list() == [1]


def test_papers_are_the_new_ones_from_their_first_listing() -> None:
    days = parsed(PAPERS[:2], [PAPERS[1], PAPERS[2]])
    entries = frames.entries(days).with_columns(pl.lit(CAPTURED).alias("listed_on"))
    first = entries.filter(pl.col("title") == PAPERS[0][0])["paper_id"][0]
    papers = frames.papers(entries, pl.Series([first]), TAXONOMY)
    assert papers["title"].to_list() == [PAPERS[1][0], PAPERS[2][0]]
    assert papers["first_dump_id"].to_list() == list(days)
    assert set(papers["taxonomy_version"]) == {TAXONOMY.version}


def test_links_come_from_the_abstract() -> None:
    papers = pl.DataFrame(
        {
            "paper_id": ["0123456789abcdef"],
            "abstract": ["Code: https://github.com/owner/repo. Page: https://x.github.io/p"],
        }
    )
    links = frames.paper_links(papers, TAXONOMY)
    assert links.select("kind", "repo").rows() == [
        ("repo", "owner/repo"),
        ("project_page", None),
    ]


def test_every_input_read_has_a_sources_row() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    raws = [
        RawDump(f"/land/{n}", b"", 0, "a" * 64, "raw/aa/x.txt", 5, CAPTURED, "mtime")
        for n in ("one", "copy")
    ]
    sources = frames.sources(raws, now)
    assert sources.select("path", "mtime_ns").rows() == [("/land/one", 5), ("/land/copy", 5)]


def test_each_enrichment_is_keyed_by_paper() -> None:
    entries = frames.entries(parsed(PAPERS)).with_columns(pl.lit(CAPTURED).alias("listed_on"))
    papers = frames.papers(entries, pl.Series([], dtype=pl.String), TAXONOMY)
    for name, enrich in frames.ENRICHMENTS.items():
        frame = enrich(papers, TAXONOMY)
        assert set(frame["paper_id"]) <= set(papers["paper_id"]), name
