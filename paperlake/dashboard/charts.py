"""A section's chart: its rows queried as JSON-ready records, and its Vega-Lite spec (built
with Altair) with those rows attached after validation."""

from __future__ import annotations

from datetime import date
from typing import Any

import altair as alt
import duckdb

CHART_HEIGHT = 260


def records(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | dict[str, object] | None = None
) -> list[dict[str, Any]]:
    """Query rows as JSON-ready dicts (dates as ISO strings) for a chart's inline data."""
    cursor = con.execute(sql, params)
    names = [column[0] for column in cursor.description or []]
    return [
        {n: v.isoformat() if isinstance(v, date) else v for n, v in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


# ---- charts -------------------------------------------------------------------------------
WEEK = alt.X("utcyearmonthdate(week):T", title="week (starting Monday)")


ROWS = alt.Data(name="rows")
"""Every chart reads its rows from a named dataset, attached after Altair validated the
spec: validating thousands of inline rows cost seconds at ten years."""


def chart_spec(
    chart: alt.Chart, rows: list[dict[str, Any]], height: int = CHART_HEIGHT
) -> dict[str, Any]:
    spec = chart.properties(width="container", height=height).to_dict()
    spec.pop("$schema", None)  # a URL the page never needs
    spec["datasets"] = {ROWS.name: rows}
    return spec


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
    order = [r[category] for r in rows]
    chart = (
        alt.Chart(ROWS)
        .mark_bar()
        .encode(
            y=alt.Y(f"{category}:N", sort=order, title=None),
            yOffset=alt.YOffset("window:N", sort=["before", "recent"]),
            x=alt.X("n:Q", title=measure),
            color=alt.Color(
                "window:N",
                sort=["before", "recent"],
                scale=alt.Scale(range=["#b8c7d9", "#1f6fb4"]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=[f"{category}:N", "window:N", alt.Tooltip("n:Q", format=",d")],
        )
    )
    return chart_spec(chart, long, height=max(CHART_HEIGHT, 34 * len(rows)))
