"""The validate stage: a row that breaks its contract becomes one quarantine row that says
which file, which check and what it belongs to."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from paperlake.archive import RawDump
from paperlake.discover import Unreadable
from paperlake.rejects import Reject
from paperlake.schemas.tables import Listings, PaperLinks, polars_schema
from paperlake.validate import (
    MAX_QUARANTINED_TITLE,
    Rejects,
    dump_owner,
    paper_owner,
    unreadable_owner,
    validated,
)

NOW = datetime(2026, 1, 2, tzinfo=UTC)
DUMP = "a" * 64
RAW = RawDump("/land/day.txt", b"", 0, DUMP, f"raw/aa/{DUMP}.txt", 0, date(2025, 3, 14), "mtime")


def test_a_failing_row_is_quarantined_with_its_file_check_and_owners() -> None:
    rejects = Rejects("run", NOW, [RAW])
    listings = pl.DataFrame(
        [
            (DUMP, date(2025, 3, 14), 1, "0123456789abcdef"),
            (DUMP, date(2025, 3, 14), 2, "not a paper id"),
        ],
        schema=polars_schema(Listings),
        orient="row",
    )
    good = validated(Listings, listings, rejects, ("dump_id",))
    assert good["position"].to_list() == [1]
    [row] = rejects.frame().to_dicts()
    assert row["source_file"] == "/land/day.txt"  # named through the row's dump
    assert (row["scope"], row["reason"], row["table_name"]) == ("row", "schema", "listings")
    assert row["detail"].startswith("Listings.paper_id: expected str_matches")
    assert row["archive_path"] is None  # a row, not the file
    assert rejects.owners == [(dump_owner(DUMP),)]


def test_a_row_without_a_dump_is_owned_by_its_paper() -> None:
    rejects = Rejects("run", NOW, [])
    links = pl.DataFrame(
        [("0123456789abcdef", "https://x.org", "nonsense", None)],
        schema=polars_schema(PaperLinks),
        orient="row",
    )
    assert validated(PaperLinks, links, rejects, ("paper_id",)).height == 0
    assert rejects.frame()["source_file"].to_list() == ["(unknown)"]
    assert rejects.owners == [(paper_owner("0123456789abcdef"),)]


def test_inputs_and_unreadable_files_are_quarantined_whole() -> None:
    rejects = Rejects("run", NOW, [RAW])
    rejects.unreadable(Unreadable("/land/pipe", "not a regular file: a named pipe"))
    rejects.input(RAW, "entry", Reject.MISSING_ABSTRACT, "no abstract", 7, "T" * 1000)
    frame = rejects.frame()
    assert frame["scope"].to_list() == ["file", "entry"]
    assert frame["archive_path"].to_list() == [None, RAW.archive_path]
    assert len(frame["title"][1]) == MAX_QUARANTINED_TITLE
    assert rejects.owners == [
        (unreadable_owner("/land/pipe", "not a regular file: a named pipe"),),
        (dump_owner(DUMP),),
    ]
    assert rejects.entry_problems() == {DUMP: 1}
