"""Validate a frame against its contract, splitting good rows from quarantined ones."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl


class ContractBroken(RuntimeError):
    """A whole-table failure (missing column, wrong dtype): a paperlake bug, never input."""


@dataclass(frozen=True, slots=True)
class RowFailure:
    row: int
    """Index of the failing row in the validated frame."""
    detail: str
    """``table.column: check failed for value ...``: what was expected and what was found."""


def validate_rows(
    model: type[pa.DataFrameModel], frame: pl.DataFrame
) -> tuple[pl.DataFrame, list[RowFailure]]:
    """Return the rows that pass every check of ``model``, and one failure per bad row.

    Data values are checked (the frame is eager), with ``lazy=True`` so every failure is
    collected at once instead of stopping at the first.
    """
    name = model.__name__
    try:
        return model.validate(frame, lazy=True), []
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    whole_table = cases.filter(pl.col("index").is_null())
    if whole_table.height:
        first = whole_table.row(0, named=True)
        raise ContractBroken(
            f"{name}: {first['check']} failed on {first['column']}: {first['failure_case']}"
        )
    failures: dict[int, str] = {}
    for case in cases.sort("index").iter_rows(named=True):
        row = int(case["index"])
        where = case["column"] if case["schema_context"] == "Column" else "row"
        value = str(case["failure_case"])
        value = value if len(value) <= 120 else f"{value[:117]}..."
        detail = f"{name}.{where}: expected {case['check']}, got {value!r}"
        failures[row] = f"{failures[row]}; {detail}" if row in failures else detail
    bad = pl.Series("bad", sorted(failures), dtype=pl.UInt32)
    good = frame.with_row_index("_row").filter(~pl.col("_row").is_in(bad.implode())).drop("_row")
    return good, [RowFailure(row, detail) for row, detail in sorted(failures.items())]


def validate_derived(
    model: type[pa.DataFrameModel], frame: pl.DataFrame, context: str
) -> pl.DataFrame:
    """Validate a table paperlake derived from already-validated tables.

    A failing row here is a paperlake bug, not bad input, so it stops the run (before its
    publish) instead of going to quarantine."""
    good, failures = validate_rows(model, frame)
    if failures:
        raise ContractBroken(f"{context}: {failures[0].detail} ({len(failures)} row(s))")
    return good
