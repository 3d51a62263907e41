"""The Pandera contracts check data values, and failures name the check and the value."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from paperlake.schemas.tables import (
    Dumps,
    Entries,
    Listings,
    PaperLinks,
    polars_schema,
)
from paperlake.schemas.validate import ContractBroken, validate_rows

NOW = datetime(2025, 3, 20, tzinfo=UTC)
DUMP = {
    "dump_id": "a" * 64,
    "source_file": "x.txt",
    "archive_path": "raw/aa/a.txt",
    "date_label": "Mar 14",
    "listed_on": date(2025, 3, 14),
    "captured_on": date(2025, 3, 14),
    "captured_on_source": "override",
    "n_bytes": 10,
    "n_papers": 1,
    "n_entry_problems": 0,
    "run_id": "r",
    "ingested_at": NOW,
}


def frame(model: type, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=polars_schema(model), orient="row")


def failures(model: type, rows: list[dict]) -> dict[int, str]:
    good, failed = validate_rows(model, frame(model, rows))
    assert good.height + len(failed) == len(rows)
    return {f.row: f.detail for f in failed}


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"n_papers": 0}, "Dumps.n_papers: expected greater_than_or_equal_to(1)"),
        ({"dump_id": "xyz"}, "Dumps.dump_id: expected str_matches"),
        ({"listed_on": date(2025, 3, 15)}, "listed_on must be on or before captured_on"),
        (
            {"listed_on": date(2001, 3, 14), "captured_on": date(2001, 3, 14)},
            "Dumps.listed_on: expected greater_than_or_equal_to(2015-01-01)",
        ),
        (
            {"captured_on": date(2026, 1, 1), "listed_on": date(2025, 3, 14)},
            "captured_on must not be after the ingestion date",
        ),
        ({"captured_on_source": "guess"}, "Dumps.captured_on_source: expected isin"),
    ],
)
def test_dump_contract(change: dict, expected: str) -> None:
    failed = failures(Dumps, [DUMP, DUMP | {"dump_id": "b" * 64} | change])
    assert list(failed) == [1]
    assert expected in failed[1]


def test_listing_contract() -> None:
    row = {"dump_id": "a" * 64, "listed_on": date(2025, 3, 14), "position": 1, "paper_id": "0" * 16}
    failed = failures(
        Listings, [row, row | {"position": 2}, row | {"paper_id": "1" * 16, "position": 0}]
    )
    assert set(failed) == {0, 1, 2}
    assert "Listings.row" in failed[0] and "unique" in failed[0]
    assert "Listings.position: expected greater_than_or_equal_to(1), got '0'" in failed[2]


def test_entry_contract() -> None:
    row = {
        "dump_id": "a" * 64,
        "position": 1,
        "title": "T",
        "title_key": "t",
        "abstract": "A.",
        "line": 3,
        "paper_id": "0" * 16,
    }
    failed = failures(
        Entries,
        [row, row | {"position": 2, "title": "x" * 501}, row | {"position": 3, "abstract": ""}],
    )
    assert set(failed) == {1, 2}
    assert "Entries.title: expected str_length(1, 500)" in failed[1]


def test_link_contract() -> None:
    row = {"paper_id": "0" * 16, "url": "https://github.com/a/b", "kind": "repo", "repo": "a/b"}
    failed = failures(PaperLinks, [row, row | {"url": "https://x.org", "kind": "other"}])
    assert list(failed) == [1]
    assert "repo is set exactly when kind == 'repo'" in failed[1]


def test_wrong_dtype_is_a_bug_not_bad_input() -> None:
    with pytest.raises(ContractBroken, match="Dumps"):
        validate_rows(Dumps, frame(Dumps, [DUMP]).with_columns(pl.col("n_papers").cast(pl.Int64)))
