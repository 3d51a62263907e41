"""Result writers for ``paperlake sql``/``search``/``quarantine``: rows arrive in batches
and leave as they arrive, so a result of any size is never held in memory."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO

FETCH_ROWS = 10_000
"""Rows fetched from DuckDB per batch."""

Batches = Iterable[Sequence[tuple[Any, ...]]]


def write_csv(columns: Sequence[str], batches: Batches, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for batch in batches:
        writer.writerows(batch)


def write_json(columns: Sequence[str], batches: Batches, out: TextIO) -> None:
    """A JSON array of one object per row (dates as ISO strings, NaN/inf as null)."""
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_default)
    out.write("[")
    separator = "\n"
    for batch in batches:
        for row in batch:
            record = dict(zip(columns, row, strict=True))
            try:
                text = encoder.encode(record)
            except ValueError:  # NaN or infinity somewhere: JSON has no such numbers
                text = encoder.encode(_finite(record))
            out.write(separator + text)
            separator = ",\n"
    out.write("\n]\n")


def _json_default(value: Any) -> Any:
    """What ``json`` cannot encode by itself, as DuckDB returns it."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)  # UUID and anything newer


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite number replaced by None."""
    if isinstance(value, float | Decimal):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


OUTPUTS: dict[str, Callable[[Sequence[str], Batches, TextIO], None]] = {
    "csv": write_csv,
    "json": write_json,
}
"""Text formats by name (``table`` is DuckDB's own box; ``parquet`` is written by DuckDB)."""
