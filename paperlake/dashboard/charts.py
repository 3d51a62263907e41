"""A section's chart: its rows queried as JSON-ready records, and its Vega-Lite spec, built
as plain dicts (importing Altair cost a daily run ~0.9 s of CPU; ``tests/test_dashboard.py``
validates every spec against Altair's Vega-Lite schema instead)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
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
    parameters) runs once per drawing, however many sections and headline figures ask it.

    Sections may draw in several threads at once: each thread queries through its own cursor
    of the connection (same database, settings and lock-down; DuckDB releases the GIL while
    a query runs), and a thread asking a query another thread is running waits for its
    answer.  :meth:`close` closes the cursors (closing the connection also does)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._lock = threading.Lock()
        self._answers: dict[str, Future[Answer]] = {}
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []

    def execute(self, sql: str, params: Params = None) -> Answer:
        key = f"{sql}\0{params!r}"
        with self._lock:
            answer = self._answers.get(key)
            asked_first = answer is None
            if answer is None:
                answer = self._answers[key] = Future()
        if asked_first:
            try:
                cursor = self._cursor().execute(sql, params)
                answer.set_result(Answer(cursor.description or [], cursor.fetchall()))
            except BaseException as exc:  # every thread waiting for it gets the error too
                answer.set_exception(exc)
                raise
        return answer.result()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's cursor, opened on its first query."""
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
            with self._lock:
                self._cursors.append(cursor)
        return cursor

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()

    def __enter__(self) -> Views:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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


def count_axis(scale: str) -> dict[str, Any]:
    """The axis of a count on the ``scale`` (``x`` or ``y``): whole numbers, one tick a
    unit at most (``tickMinStep`` alone still drew ticks at 0.5, labelled "0 1 1" by the
    whole-number format), one per 40 pixels at most."""
    size = {"x": "width", "y": "height"}[scale]
    ticks = f"max(1, min(ceil({size} / 40), span(domain('{scale}'))))"
    return {"format": ",d", "tickCount": {"expr": ticks}, "tickMinStep": 1}


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
    rows: list[dict[str, Any]],
    category: str,
    recent: str,
    previous: str,
    measure: str,
    counts: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Grouped horizontal bars: each category's ``measure`` in the recent and previous
    window, a count; or, given ``counts`` (the recent and previous columns counting the
    papers behind them), a share of each window's papers, the counts in the tooltip."""
    long = [
        {category: r[category], "window": label, "n": r[key]}
        | ({} if counts is None else {"papers": r[counts[i]]})
        for r in rows
        for i, (key, label) in enumerate(((recent, "recent"), (previous, "before")))
    ]
    windows = ["before", "recent"]
    value = (
        [channel("n:Q", format=",d", title=measure)]
        if counts is None
        else [channel("n:Q", format=".1%", title=measure), channel("papers:Q", format=",d")]
    )
    axis = count_axis("x") if counts is None else {"format": ".0%"}
    encoding = {
        "y": channel(f"{category}:N", sort=[r[category] for r in rows], title=None),
        "yOffset": channel("window:N", sort=windows),
        "x": channel("n:Q", title=measure, axis=axis),
        "color": channel(
            "window:N",
            sort=windows,
            scale={"range": ["#b8c7d9", "#1f6fb4"]},
            legend={"orient": "top", "title": None},
        ),
        "tooltip": [channel(f"{category}:N"), channel("window:N"), *value],
    }
    return chart_spec(mark("bar"), encoding, long, height=max(CHART_HEIGHT, 34 * len(rows)))
