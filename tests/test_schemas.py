"""The Pandera contracts check data values, and failures name the check and the value."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pandera.polars as pa
import polars as pl
import pytest

from paperlake.archive import RawDump
from paperlake.schemas.tables import (
    PUBLISHED,
    Dumps,
    Entries,
    Listings,
    PaperLinks,
    polars_schema,
)
from paperlake.schemas.validate import ContractBroken, passes, validate_rows
from paperlake.topics import load_taxonomy
from paperlake.transform import Known, transform
from tests.conftest import SAMPLES

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
        ({"listed_on": date(2025, 3, 16)}, "listed_on must be on or before the day after"),
        (
            {"listed_on": date(2001, 3, 14), "captured_on": date(2001, 3, 14)},
            "Dumps.listed_on: expected greater_than_or_equal_to(2015-01-01)",
        ),
        (
            {"captured_on": date(2026, 1, 1), "listed_on": date(2025, 3, 14)},
            "captured_on must not be after the day after the ingestion date",
        ),
        (  # a row check shows the fields it names (and their source), not the whole row
            {"captured_on": date(2026, 1, 1), "listed_on": date(2025, 3, 14)},
            "got 'captured_on=2026-01-01, captured_on_source=override, ingested_at=2025-03-20",
        ),
        ({"captured_on_source": "guess"}, "Dumps.captured_on_source: expected isin"),
    ],
)
def test_dump_contract(change: dict, expected: str) -> None:
    failed = failures(Dumps, [DUMP, DUMP | {"dump_id": "b" * 64} | change])
    assert list(failed) == [1]
    assert expected in failed[1]


def test_a_day_ahead_is_a_time_zone_not_a_future() -> None:
    """A page dated, or a file named, in a zone ahead of UTC: one day ahead passes, two fail."""
    ahead = {"captured_on": date(2025, 3, 21), "listed_on": date(2025, 3, 22)}  # NOW: Mar 20
    assert failures(Dumps, [DUMP | {"dump_id": "b" * 64} | ahead]) == {}
    failed = failures(Dumps, [DUMP | {"captured_on": date(2025, 3, 22)}])
    assert "captured_on must not be after the day after the ingestion date" in failed[0]


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


def _sample_tables() -> dict[str, pl.DataFrame]:
    """Every table of a batch of the two sample dumps, plus hand-made summary rows."""
    raws = []
    for path in sorted(SAMPLES.glob("*.txt")):
        data = path.read_bytes()
        dump_id = hashlib.sha256(data).hexdigest()
        raws.append(
            RawDump(str(path), data, len(data), dump_id, f"raw/{dump_id}", 7, NOW.date(), "mtime")
        )
    batch = transform(raws, [], Known(), load_taxonomy(), "run", NOW)
    tables = dict(batch.tables)
    rows = {
        "keyphrase_daily": [
            ("sparse attention", date(2025, 3, d), 2, 2, date(2025, 3, 1)) for d in (1, 2)
        ],
        "topic_daily": [("attention", date(2025, 3, d), 2, date(2025, 3, 1)) for d in (1, 2)],
        "title_words": [(2**64 - 1, 0, False), (7, 2**63, True)],
        "title_pairs": [("0" * 16, "1" * 16, 0.95), ("0" * 16, "2" * 16, 1.0)],
    }
    for name, values in rows.items():
        tables[name] = pl.DataFrame(values, schema=polars_schema(PUBLISHED[name]), orient="row")
    return tables


def _mutations(frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """``frame`` broken (or not) in every way a contract can see: nulls, duplicates, out of
    range values, wrong dtypes, missing and extra columns."""
    first = pl.int_range(pl.len()) == 0
    yield frame
    yield pl.concat([frame, frame.head(1)])
    yield frame.with_columns(extra=pl.lit(1))
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        yield frame.drop(name)
        yield frame.with_columns(
            column.cast(pl.String if dtype != pl.String else pl.Int64, strict=False)
        )
        yield frame.with_columns(pl.when(first).then(None).otherwise(column).alias(name))
        yield frame.with_columns(
            pl.when(first).then(column.shift(-1)).otherwise(column).alias(name)
        )
        if dtype == pl.String:
            bad: list[object] = ["", "x" * 600, "ZZ", "no/such repo"]
        elif dtype.is_unsigned_integer():  # no negative value to try
            bad = [0, 4]
        elif dtype.is_numeric():
            bad = [0, -1, 2.5 if dtype.is_float() else 4]
        elif dtype == pl.Date:
            bad = [date(2001, 1, 1), date(2099, 1, 1), date(2025, 3, 2)]
        elif dtype == pl.Boolean:
            bad = [True]
        else:
            bad = [datetime(2001, 1, 1, tzinfo=UTC)]
        for value in bad:
            changed = pl.when(first).then(pl.lit(value, dtype=dtype)).otherwise(column)
            yield frame.with_columns(changed.alias(name))


def _pandera_passes(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> bool:
    try:
        model.validate(frame, lazy=True)
    except (pa.errors.SchemaErrors, pa.errors.SchemaError):
        return False
    return True


def test_the_one_query_check_agrees_with_pandera_on_every_table() -> None:
    """:func:`passes` (the fast path) accepts exactly what Pandera accepts."""
    tables = _sample_tables()
    models = {**PUBLISHED, "entries": Entries}
    assert set(PUBLISHED) <= set(tables)
    verdicts = []
    for name, frame in tables.items():
        assert frame.height >= 2 or name == "quarantine", name
        for mutated in _mutations(frame):
            expected = _pandera_passes(models[name], mutated)
            assert passes(models[name], mutated) == expected, (name, mutated)
            verdicts.append(expected)
    assert verdicts.count(False) > 200 and verdicts.count(True) > 50  # both sides exercised
