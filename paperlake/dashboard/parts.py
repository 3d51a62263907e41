"""The pieces a dashboard section is made of: its :class:`Section`, text and tables formatted
for the page, and Vega-Lite specs (built with Altair) with their rows attached."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import altair as alt
import duckdb

CHART_HEIGHT = 260


@dataclass(frozen=True, slots=True)
class Section:
    question: str
    body: str = ""
    """HTML below the chart: a table or a note."""
    chart: dict[str, Any] | None = None
    """A Vega-Lite spec with its data inline."""


# ---- formatting ---------------------------------------------------------------------------
def text(value: object) -> str:
    """HTML-escaped text; slashes as entities so no URL in the data reads as a reference."""
    return html.escape(str(value)).replace("/", "&#47;")


def day(value: date | datetime | None) -> str:
    """``Mar 14, 2025`` (``Mar 14, 2025 06:02 UTC`` for a timestamp); ``-`` if missing."""
    if value is None:
        return "-"
    shown = f"{value:%b} {value.day}, {value.year}"
    if isinstance(value, datetime):
        shown += f" {value.astimezone(UTC):%H:%M} UTC"
    return shown


def count(value: int | None) -> str:
    return f"{value or 0:,}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], compact: set[int]) -> str:
    """An HTML table of already formatted cells; ``compact`` columns (counts, dates)
    align right and never wrap."""
    if not rows:
        return '<p class="empty">Nothing yet.</p>'

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f'<{tag} class="{"num" if i in compact else "text"}" data-label="{text(h)}">{v}</{tag}>'
            for i, (h, v) in enumerate(zip(headers, values, strict=True))
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (
        f'<div class="table-wrap"><table><thead><tr>{cells("th", headers)}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


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
