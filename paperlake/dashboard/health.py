"""The dashboard's run-health section: what the pipeline loaded and what it quarantined
(the other sections, in :mod:`paperlake.dashboard.sections`, read what the papers say)."""

from __future__ import annotations

from paperlake.dashboard.charts import (
    WEEK,
    Views,
    channel,
    chart_spec,
    count_axis,
    mark,
    records,
)
from paperlake.dashboard.format import Section, count, day, table, text

QUARANTINE_ROWS = 20


DUMPS_SQL = (
    "select max(ingested_at), count(*), count(distinct listed_on), min(listed_on), "
    "max(listed_on) from dumps"
)
"""The loaded dumps' figures: last load, dumps, page days, first and last page day (the
page's headline reads this query's answer too, so ``dumps`` is read once for both)."""


def run_health(con: Views) -> Section:
    [(last_load, n_dumps, n_days, first_day, last_day)] = con.execute(DUMPS_SQL).fetchall()
    weekly = records(
        con,
        "select date_trunc('week', listed_on)::date as week, "
        "date_trunc('week', listed_on)::date + 7 as next_week, count(*) as n_dumps, "
        "count(distinct listed_on) as days from dumps group by all order by week",
    )
    reasons = con.execute(
        "select reason, scope, count(*) as n from quarantine group by all "
        "order by n desc, reason, scope"
    ).fetchall()
    recent = con.execute(
        "select quarantined_at, scope, reason, source_file, line, detail from quarantine "
        "order by quarantined_at desc, source_file, line limit ?",
        [QUARANTINE_ROWS],
    ).fetchall()
    n_quarantined = sum(n for _, _, n in reasons)
    facts = (
        f'<ul class="facts"><li>last dump loaded <b>{day(last_load)}</b></li>'
        f"<li><b>{count(n_dumps)}</b> dumps loaded, covering <b>{count(n_days)}</b> "
        f"page day{'' if n_days == 1 else 's'} "
        f"from {day(first_day)} to {day(last_day)}</li>"
        f'<li class="{"warn" if n_quarantined else "ok"}"><b>{count(n_quarantined)}</b> '
        "quarantined files, entries or rows"
        + (
            ": " + ", ".join(f"{text(r)} ({text(s)}) {count(n)}" for r, s, n in reasons)
            if reasons
            else ""
        )
        + "</li></ul>"
    )
    quarantine_table = (
        f"<h3>Latest quarantined (of {count(n_quarantined)}; "
        "<code>paperlake quarantine</code> lists all)</h3>"
        + table(
            ["when", "scope", "reason", "file", "line", "detail"],
            [
                [day(at), text(s), text(r), text(f), "" if ln is None else str(ln), text(dt)]
                for at, s, r, f, ln, dt in recent
            ],
            compact={0, 1, 2, 4},
        )
        if recent
        else ""
    )
    # A bar spans its week, to the next Monday: a week without a dump has none (an area
    # held the last count across gaps, and drew the latest week with no width).
    bars = mark("bar", color="#5b8a3c", opacity=0.8)
    encoding = {
        "x": WEEK,
        "x2": {"field": "next_week", "timeUnit": "utcyearmonthdate"},
        "y": channel("n_dumps:Q", title="dumps loaded", axis=count_axis("y")),
        "tooltip": [
            channel("utcyearmonthdate(week):T", title="week of"),
            channel("n_dumps:Q", format=",d", title="dumps"),
            channel("days:Q", format=",d", title="page days that week"),
        ],
    }
    return Section(
        "Is the pipeline healthy? (dumps loaded per page week, quarantine)",
        facts + quarantine_table,
        chart_spec(bars, encoding, weekly, height=160),
    )
