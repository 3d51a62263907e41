"""A section's chart: its rows queried as JSON-ready records, and its Vega-Lite spec, built
as plain dicts (importing Altair cost a daily run ~0.9 s of CPU; ``tests/test_dashboard.py``
validates every spec against Altair's Vega-Lite schema instead)."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

VEGA_LITE = "6.4"
"""The Vega-Lite version the specs are written for (Altair 6's schema); the page inlines it."""
CHART_HEIGHT = 260
ROWS = "rows"
"""Every chart reads its rows from this named dataset, attached next to the spec."""
_TYPES = {"N": "nominal", "Q": "quantitative", "T": "temporal"}


Params = list[object] | dict[str, object] | None


class Answer:
    """One query's rows and columns, read like a DuckDB cursor."""

    def __init__(self, description: list[Any], rows: list[tuple[Any, ...]]) -> None:
        self.description = description
        self.rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class Views:
    """The page's read-only connection to the views: each distinct query (its SQL and
    parameters) runs once per drawing, however many sections and headline figures ask it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._answers: dict[str, Answer] = {}

    def execute(self, sql: str, params: Params = None) -> Answer:
        key = f"{sql}\0{params!r}"
        if key not in self._answers:
            cursor = self._con.execute(sql, params)
            self._answers[key] = Answer(cursor.description or [], cursor.fetchall())
        return self._answers[key]


def records(con: Views, sql: str, params: Params = None) -> list[dict[str, Any]]:
    """Query rows as JSON-ready dicts (dates as ISO strings) for a chart's inline data."""
    cursor = con.execute(sql, params)
    names = [column[0] for column in cursor.description or []]
    return [
        {n: v.isoformat() if isinstance(v, date) else v for n, v in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


# ---- charts -------------------------------------------------------------------------------
def channel(shorthand: str, **properties: object) -> dict[str, Any]:
    """An encoding channel from Altair's shorthand (``topic:N``, ``utcyearmonthdate(week):T``)
    and its properties, keys in the order Altair writes them (sorted)."""
    spec, _, kind = shorthand.rpartition(":")
    unit, _, field = spec.removesuffix(")").rpartition("(")
    found = {"field": field, "type": _TYPES[kind], **properties}
    if unit:
        found["timeUnit"] = unit
    return dict(sorted(found.items()))


def mark(kind: str, **properties: object) -> dict[str, Any]:
    return {"type": kind, **dict(sorted(properties.items()))}


WEEK = channel("utcyearmonthdate(week):T", title="week (starting Monday)")


def chart_spec(
    mark: dict[str, Any],
    encoding: dict[str, Any],
    rows: list[dict[str, Any]],
    height: int = CHART_HEIGHT,
) -> dict[str, Any]:
    """The spec of one chart over ``rows``, as Altair wrote it (its default view config)."""
    return {
        "config": {"view": {"continuousWidth": 300, "continuousHeight": 300}},
        "data": {"name": ROWS},
        "mark": mark,
        "encoding": dict(sorted(encoding.items())),
        "height": height,
        "width": "container",
        "datasets": {ROWS: rows},
    }


def window_bars(
    rows: list[dict[str, Any]], category: str, recent: str, previous: str, measure: str
) -> dict[str, Any]:
    """Grouped horizontal bars: each category's ``measure`` in the recent and previous
    window."""
    long = [
        {category: r[category], "window": label, "n": r[key]}
        for r in rows
        for key, label in ((recent, "recent"), (previous, "before"))
    ]
    windows = ["before", "recent"]
    encoding = {
        "y": channel(f"{category}:N", sort=[r[category] for r in rows], title=None),
        "yOffset": channel("window:N", sort=windows),
        "x": channel("n:Q", title=measure),
        "color": channel(
            "window:N",
            sort=windows,
            scale={"range": ["#b8c7d9", "#1f6fb4"]},
            legend={"orient": "top", "title": None},
        ),
        "tooltip": [channel(f"{category}:N"), channel("window:N"), channel("n:Q", format=",d")],
    }
    return chart_spec(mark("bar"), encoding, long, height=max(CHART_HEIGHT, 34 * len(rows)))
