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
from uuid import UUID

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
    out.write("[")
    separator = "\n"
    for batch in batches:
        for row in batch:
            record = {name: _jsonable(value) for name, value in zip(columns, row, strict=True)}
            out.write(separator + json.dumps(record, ensure_ascii=False, allow_nan=False))
            separator = ",\n"
    out.write("\n]\n")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _jsonable(float(value))
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)


OUTPUTS: dict[str, Callable[[Sequence[str], Batches, TextIO], None]] = {
    "csv": write_csv,
    "json": write_json,
}
"""Text formats by name (``table`` is DuckDB's own box; ``parquet`` is written by DuckDB)."""
