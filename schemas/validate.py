"""Validate a frame against its contract, splitting good rows from quarantined ones."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import reduce

import pandera.polars as pa
import polars as pl
from pandera.api.checks import Check
from pandera.api.polars.types import PolarsData


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

    Data values are checked (the frame is eager).  Every check of the contract runs first in
    one polars query (:func:`passes`); only a frame that fails it goes through Pandera's
    ``validate(lazy=True)``, which collects every failure case at once.
    """
    if passes(model, frame):
        return frame, []
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
        if where == "row":
            value = _named_fields(value, str(case["check"]))
        value = value if len(value) <= 120 else f"{value[:117]}..."
        detail = f"{name}.{where}: expected {case['check']}, got {value!r}"
        failures[row] = f"{failures[row]}; {detail}" if row in failures else detail
    bad = pl.Series("bad", sorted(failures), dtype=pl.UInt32)
    good = frame.with_row_index("_row").filter(~pl.col("_row").is_in(bad.implode())).drop("_row")
    return good, [RowFailure(row, detail) for row, detail in sorted(failures.items())]


def _named_fields(row: str, check: str) -> str:
    """Of a failing row (Pandera gives it as JSON), the fields its check names, and those
    that qualify one (``captured_on_source`` beside ``captured_on``), as ``name=value``:
    the whole row put the ids first and cut the values that failed.  The row as given when
    it is not JSON or the check names no field."""
    try:
        fields = json.loads(row)
    except ValueError:
        return row
    if not isinstance(fields, dict):
        return row
    named = [key for key in fields if re.search(rf"\b{re.escape(key)}\b", check)]
    shown = [key for key in fields if any(key.startswith(name) for name in named)]
    return ", ".join(f"{key}={fields[key]}" for key in shown) if shown else row


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


def passes(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> bool:
    """Whether ``frame`` passes every check of ``model``'s Pandera schema, in one query.

    The same checks Pandera runs: column presence (strict), each column's dtype (Pandera's
    own ``dtype.check``), nulls (NaN counts as null in floats), unique columns and column
    groups, and every column and dataframe :class:`Check` through Pandera's check backend.
    Pandera collects each check, and its failure cases, on its own (~5 ms a check even on an
    empty frame); here they are one lazy query, with uniqueness tested on hashes (distinct
    hashes mean distinct rows; equal hashes send the frame to Pandera, which decides).
    ``False`` means "ask Pandera", never "invalid": a schema feature this does not know
    (coercion, defaults, regex columns...) also answers ``False``.
    """
    schema = model.to_schema()
    schema.register_default_backends(pl.LazyFrame)
    if (
        schema.coerce
        or schema.strict not in (True, False)
        or schema.ordered
        or schema.dtype is not None
        or schema.add_missing_columns
        or schema.drop_invalid_rows
        or schema.parsers
    ):
        return False
    present = set(frame.columns)
    if schema.strict and present != set(schema.columns):
        return False
    data = frame.lazy()
    checks: list[pl.LazyFrame] = []
    exprs: list[pl.Expr] = []
    for name, column in schema.columns.items():
        if column.coerce or column.regex or column.default is not None or column.parsers:
            return False
        if name not in present:
            if column.required:
                return False
            continue
        dtype = frame.schema[name]
        if column.dtype is not None and not column.dtype.check(dtype, PolarsData(data, name)):
            return False
        if not column.nullable:
            exprs.append(_not_null(name, dtype).all())
        if column.unique:
            exprs.append(_distinct([name]))
        checks.extend(_check(check, PolarsData(data, name)) for check in column.checks)
    checks.extend(_check(check, PolarsData(data, "*")) for check in schema.checks)
    unique = schema.unique or []
    groups = [unique] if all(isinstance(c, str) for c in unique) else unique
    exprs.extend(_distinct(list(group)) for group in groups if group)
    parts = [*checks, data.select(pl.lit(True), *(e.alias(f"_{i}") for i, e in enumerate(exprs)))]
    verdicts = pl.concat(
        [
            part.select(pl.all_horizontal(pl.all().all()).alias(f"_{i}"))
            for i, part in enumerate(parts)
        ],
        how="horizontal",
    ).collect()
    return all(verdicts.row(0))


def _not_null(name: str, dtype: pl.DataType) -> pl.Expr:
    expr = pl.col(name).is_not_null()
    return expr & pl.col(name).is_not_nan() if dtype.is_float() else expr


def _distinct(columns: list[str]) -> pl.Expr:
    """True when no two rows share a hash of ``columns`` (so none share the values)."""
    hashed = reduce(
        lambda acc, c: acc * 1_000_003 + pl.col(c).hash(), columns[1:], pl.col(columns[0]).hash()
    )
    return hashed.n_unique() == pl.len()


def _check(check: Check, data: PolarsData) -> pl.LazyFrame:
    """``check``'s boolean output on ``data``, lazily, as Pandera's check backend computes
    it (a null passes when the check ignores nulls, as in Pandera)."""
    builtin = getattr(check._check_fn, "__name__", None)
    if builtin is not None and check.is_builtin_check(builtin):
        # as Check.__call__ does: the builtin's polars implementation registers on import
        check._check_fn = check.get_builtin_check_fn(builtin)
    out = check.get_backend(data.lazyframe)(check).apply(data)
    if isinstance(out, bool):
        return pl.LazyFrame({"out": [out]})
    value = pl.all()
    return out.select((value | value.is_null()) if check.ignore_na else value.fill_null(False))
