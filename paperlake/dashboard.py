"""``warehouse/dashboard.html``: one self-contained page answering the views' questions.

Every section is one small function reading the public views through a read-only
connection and returning its question, an optional Vega-Lite chart (built with Altair) and
HTML.  Data is aggregated (weekly, top N) so the page stays small at ten years.  The
Vega, Vega-Lite and vega-embed libraries are inlined from ``vl_convert``: the page opens
from disk, by e-mail or on any static host with no network at all, and its Content
Security Policy forbids the browser to load anything.  :func:`write_page` refuses a page
that references anything external and swaps it into place atomically.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import vl_convert

from paperlake.lake import atomic_write
from paperlake.views import open_read_only

TOP_TOPICS = 8
TOP_BARS = 12
TABLE_ROWS = 25
QUARANTINE_ROWS = 20
RISING_DAYS = 28
"""Rising entities compare the last 28 days with the 28 before."""
CHART_HEIGHT = 260


def open_views(db_path: Path) -> duckdb.DuckDBPyConnection:
    """The one read-only connection the dashboard reads the views through, locked down as
    every user path is (:func:`paperlake.views.open_read_only`)."""
    return open_read_only(db_path.parent)


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


def _spec(
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
    return _spec(chart, long, height=max(CHART_HEIGHT, 34 * len(rows)))


# ---- sections -----------------------------------------------------------------------------
TOP_TOPICS_SQL = (
    "select topic from topic_frequency group by topic order by sum(n_papers) desc, topic limit ?"
)
"""The topics with the most listings over all days (ties by name)."""
REPEATED_SQL = (
    "select title, n_listing_days, n_dumps, first_listed_on, last_listed_on "
    "from repeated_listings "
    "order by n_listing_days desc, n_dumps desc, last_listed_on desc, title limit ?"
)
"""The most repeated papers: days on the page first, then dumps, the latest, by title."""


@dataclass(frozen=True, slots=True)
class Headline:
    n_papers: int
    n_dumps: int
    first_day: date | None
    last_day: date | None
    top_topic: str | None
    top_repeated: str | None


def headline(con: duckdb.DuckDBPyConnection) -> Headline:
    """The figures at the top of the page (the test compares them with the views)."""
    [(n_papers,)] = con.execute("select count(*) from papers").fetchall()
    [(n_dumps, first_day, last_day)] = con.execute(
        "select count(*), min(listed_on), max(listed_on) from dumps"
    ).fetchall()
    topic = con.execute(TOP_TOPICS_SQL, [1]).fetchone()
    repeated = con.execute(REPEATED_SQL, [1]).fetchone()
    return Headline(
        n_papers,
        n_dumps,
        first_day,
        last_day,
        topic[0] if topic else None,
        repeated[0] if repeated else None,
    )


def topic_frequency(con: duckdb.DuckDBPyConnection) -> Section:
    rows = records(
        con,
        f"""
        with top as ({TOP_TOPICS_SQL})
        select topic, date_trunc('week', listed_on)::date as week, sum(n_papers)::bigint as n
        from topic_frequency
        where topic in (select topic from top)
        group by all order by week, topic
        """,
        [TOP_TOPICS],
    )
    chart = (
        alt.Chart(ROWS)
        .mark_line(point=len({r["week"] for r in rows}) < 3)
        .encode(
            x=WEEK,
            y=alt.Y("n:Q", title="listings that week"),
            color=alt.Color("topic:N", legend=alt.Legend(orient="bottom", columns=2, title=None)),
            tooltip=[
                "topic:N",
                alt.Tooltip("utcyearmonthdate(week):T", title="week of"),
                alt.Tooltip("n:Q", format=",d", title="listings"),
            ],
        )
    )
    return Section(
        f"Which topics fill the page, week by week? (top {TOP_TOPICS})",
        '<p class="note">A paper listed on three days counts three times in its week.</p>',
        _spec(chart, rows),
    )


def trending_topics(con: duckdb.DuckDBPyConnection) -> Section:
    rows = records(
        con,
        "select topic, n_recent, n_previous from trending_topics "
        "where n_recent > n_previous "
        "order by growth_lower desc nulls last, n_recent desc, topic limit ?",
        [TOP_BARS],
    )
    [(end,)] = con.execute("select max(listed_on) from listings").fetchall()
    return Section(
        "Which topics are trending now?",
        f'<p class="note">Distinct papers in the 7 days to {day(end)} ("recent") and '
        "the 7 days before; topics with at least 10 recent papers that gained, surest rise first "
        "(the view's growth_lower).</p>",
        window_bars(rows, "topic", "n_recent", "n_previous", "distinct papers"),
    )


def repeated_listings(con: duckdb.DuckDBPyConnection) -> Section:
    [(total,)] = con.execute("select count(*) from repeated_listings").fetchall()
    rows = con.execute(REPEATED_SQL, [TABLE_ROWS]).fetchall()
    return Section(
        "Which papers are listed again and again?",
        f'<p class="note">{count(total)} papers appeared in more than one dump; the top '
        f"{min(total, TABLE_ROWS)}:</p>"
        + table(
            ["title", "days on the page", "dumps", "first seen", "last seen"],
            [[text(t), count(d), count(n), day(f), day(ls)] for t, d, n, f, ls in rows],
            compact={1, 2, 3, 4},
        ),
    )


def most_linked_repos(con: duckdb.DuckDBPyConnection) -> Section:
    rows = records(
        con,
        "select repo, n_papers, n_listings, first_listed_on, last_listed_on from repos "
        "order by n_listings desc, n_papers desc, repo limit ?",
        [TOP_BARS],
    )
    chart = (
        alt.Chart(ROWS)
        .mark_bar(color="#1f6fb4")
        .encode(
            y=alt.Y("repo:N", sort=[r["repo"] for r in rows], title=None),
            x=alt.X("n_listings:Q", title="times a paper linking it was on the page"),
            tooltip=[
                "repo:N",
                alt.Tooltip("n_listings:Q", format=",d", title="times on the page"),
                alt.Tooltip("n_papers:Q", format=",d", title="papers linking it"),
                alt.Tooltip("utcyearmonthdate(first_listed_on):T", title="first seen"),
                alt.Tooltip("utcyearmonthdate(last_listed_on):T", title="last seen"),
            ],
        )
    )
    return Section(
        "Which GitHub repos are linked most?",
        chart=_spec(chart, rows, height=max(CHART_HEIGHT, 24 * len(rows))),
    )


def rising_entities(con: duckdb.DuckDBPyConnection) -> Section:
    rows = records(
        con,
        """
        with bounds as (select max(listed_on) as window_end from entity_frequency),
        windows as (
            select
                f.entity,
                coalesce(sum(f.n_papers) filter (where f.listed_on > b.window_end - $days), 0)
                    as n_recent,
                coalesce(sum(f.n_papers) filter (where f.listed_on <= b.window_end - $days), 0)
                    as n_previous
            from entity_frequency as f cross join bounds as b
            where f.listed_on > b.window_end - 2 * $days
            group by f.entity
        )
        select entity, n_recent::bigint as n_recent, n_previous::bigint as n_previous
        from windows where n_recent > n_previous
        order by n_recent - n_previous desc, n_recent desc, entity limit $top
        """,
        {"days": RISING_DAYS, "top": TOP_BARS},
    )
    return Section(
        "Which methods, models and datasets are rising?",
        f'<p class="note">Listings of papers naming each entity in the last {RISING_DAYS} '
        f"days (recent) and the {RISING_DAYS} before; the largest gains.</p>",
        window_bars(rows, "entity", "n_recent", "n_previous", "listings"),
    )


def code_share(con: duckdb.DuckDBPyConnection) -> Section:
    rows = records(
        con,
        """
        select
            date_trunc('week', listed_on)::date as week,
            1 - sum(n_without_code) / sum(n_papers) as share_with_code,
            sum(n_papers)::bigint as n_papers
        from papers_without_code group by week order by week
        """,
    )
    chart = (
        alt.Chart(ROWS)
        .mark_line(point=len(rows) < 3, color="#1f6fb4")
        .encode(
            x=WEEK,
            y=alt.Y("share_with_code:Q", title="papers linking code", axis=alt.Axis(format=".0%")),
            tooltip=[
                alt.Tooltip("utcyearmonthdate(week):T", title="week of"),
                alt.Tooltip("share_with_code:Q", format=".1%", title="with code"),
                alt.Tooltip("n_papers:Q", format=",d", title="listings"),
            ],
        )
    )
    return Section("What share of papers links its code?", chart=_spec(chart, rows))


def latest_listing(con: duckdb.DuckDBPyConnection) -> Section:
    rows = con.execute(
        """
        with latest as (select max(listed_on) as listed_on from listings)
        select
            row_number() over (order by min(l.position), p.title) as rank,
            p.title, p.n_listing_days, p.first_listed_on, l.listed_on
        from listings as l
        inner join latest using (listed_on)
        inner join papers as p using (paper_id)
        group by p.paper_id, p.title, p.n_listing_days, p.first_listed_on, l.listed_on
        order by rank
        """
    ).fetchall()
    latest = rows[0][4] if rows else None
    return Section(
        f"What is on the page on {day(latest)}?",
        table(
            ["#", "title", "days on the page", "first seen"],
            [
                [
                    str(rank),
                    text(title) + (' <span class="new">new</span>' if first == d else ""),
                    count(days),
                    day(first),
                ]
                for rank, title, days, first, d in rows
            ],
            compact={0, 2, 3},
        ),
    )


def run_health(con: duckdb.DuckDBPyConnection) -> Section:
    [(last_load, n_dumps, n_days, first_day, last_day)] = con.execute(
        "select max(ingested_at), count(*), count(distinct listed_on), min(listed_on), "
        "max(listed_on) from dumps"
    ).fetchall()
    weekly = records(
        con,
        "select date_trunc('week', listed_on)::date as week, count(*) as n_dumps "
        "from dumps group by week order by week",
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
    chart = (
        alt.Chart(ROWS)
        .mark_area(
            interpolate="step-after", line=True, point=len(weekly) < 3, color="#5b8a3c", opacity=0.6
        )
        .encode(
            x=WEEK,
            y=alt.Y("n_dumps:Q", title="dumps loaded"),
            tooltip=[
                alt.Tooltip("utcyearmonthdate(week):T", title="week of"),
                alt.Tooltip("n_dumps:Q", format=",d", title="dumps"),
            ],
        )
    )
    return Section(
        "Is the pipeline healthy? (dumps loaded per page week, quarantine)",
        facts + quarantine_table,
        _spec(chart, weekly, height=160),
    )


SECTIONS: tuple[Callable[[duckdb.DuckDBPyConnection], Section], ...] = (
    topic_frequency,
    trending_topics,
    repeated_listings,
    most_linked_repos,
    rising_entities,
    code_share,
    latest_listing,
    run_health,
)


# ---- the page -----------------------------------------------------------------------------
def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paperlake"


@functools.cache
def library_bundle() -> str:
    """vega-embed, Vega-Lite (the version Altair writes) and Vega as one inline script.

    Bundling takes ~2 s of CPU, so the result is kept in the user's cache folder, keyed
    by the vl-convert and Vega-Lite versions (a cache only: any failure rebuilds it)."""
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    cached = _cache_dir() / f"vega-bundle-vlc{metadata.version('vl-convert-python')}-vl{version}.js"
    with contextlib.suppress(OSError):
        return cached.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle("window.vegaEmbed = vegaEmbed;", vl_version=version)
    with contextlib.suppress(OSError):
        atomic_write(cached, bundle.encode())
    return bundle


CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data:"
)
"""Nothing may be fetched; Vega compiles its expressions with ``Function`` (unsafe-eval)."""

STYLE = """
:root { color-scheme: light; --ink: #1d2733; --muted: #5c6b7a; --line: #dde3ea; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f4f6f9; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
header h1 { font-size: 1.5rem; margin: 20px 0 4px; }
header p { margin: 0 0 12px; color: var(--muted); }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 10px;
        margin: 0 0 16px; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.kpi span { display: block; color: var(--muted); font-size: .8rem; }
.kpi b { font-size: 1.15rem; overflow-wrap: break-word; }
.kpi.wide { grid-column: 1 / -1; }
.kpi.wide b { font-size: 1rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 12px 16px 16px; margin: 0 0 16px; }
section h2 { font-size: 1.1rem; margin: 0 0 8px; }
section h3 { font-size: .95rem; margin: 14px 0 6px; }
.chart { width: 100%; }
.chart .vega-embed { width: 100%; }
.note, .empty { color: var(--muted); font-size: .9rem; margin: 6px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td { overflow-wrap: break-word; }
.new { background: #e3f0d8; color: #2f5d13; border-radius: 4px; padding: 0 4px;
       font-size: .75rem; }
.facts { padding-left: 18px; margin: 6px 0; }
.warn { color: #9a3b00; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  section { padding: 10px; }
  /* tables become one card per row: the text cell, then the labelled figures */
  table, tbody, tr, td { display: block; }
  thead { display: none; }
  tr { padding: 6px 0; border-bottom: 1px solid var(--line); }
  td { border: 0; padding: 1px 0; }
  td.num { display: inline-block; text-align: left; margin-right: 12px; color: var(--muted);
           font-size: .85rem; }
  td.num::before { content: attr(data-label) ": "; }
  td.num:empty { display: none; }
}
"""

EMBED = """
const specs = JSON.parse(document.getElementById("specs").textContent);
Promise.all(Object.entries(specs).map(([id, spec]) =>
  vegaEmbed("#" + id, spec, {actions: false, renderer: "svg"}).catch((error) => {
    document.getElementById(id).textContent = "This chart could not be drawn: " + error;
    throw error;
  })
)).then(() => { document.body.dataset.drawn = String(Object.keys(specs).length); },
        (error) => { console.error(error); });
"""


def _inline_json(value: object) -> str:
    """JSON for a ``<script type="application/json">``: every slash escaped (``<\\/script>``
    cannot occur, and no data string reads as a URL)."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def render_section(number: int, section: Section) -> str:
    chart = f'<div class="chart" id="chart-{number}"></div>' if section.chart else ""
    return f"<section><h2>{text(section.question)}</h2>{chart}{section.body}</section>"


def render_page(con: duckdb.DuckDBPyConnection, generated_at: datetime) -> str:
    """The whole page, from the views ``con`` reads."""
    top = headline(con)
    sections = [build(con) for build in SECTIONS]
    specs = {f"chart-{i}": s.chart for i, s in enumerate(sections) if s.chart}
    kpis = (
        ("papers", "n-papers", count(top.n_papers)),
        ("dumps loaded", "n-dumps", count(top.n_dumps)),
        ("page days", "span", " to ".join(dict.fromkeys([day(top.first_day), day(top.last_day)]))),
        ("top topic", "top-topic", text(top.top_topic or "-")),
        ("most repeated", "top-repeated", text(top.top_repeated or "-")),
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>paperlake: trending papers</title><style>{STYLE}</style></head><body>"
        "<header><h1>Trending papers</h1>"
        f"<p>Drawn {day(generated_at)} from the paperlake warehouse's views.</p></header><main>"
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi{" wide" if i == "top-repeated" else ""}"><span>{k}</span>'
            f'<b id="{i}">{v}</b></div>'
            for k, i, v in kpis
        )
        + "</div>"
        + "".join(render_section(i, s) for i, s in enumerate(sections))
        + "</main>"
        f'<script type="application/json" id="specs">{_inline_json(specs)}</script>'
        f"<script>{library_bundle()}</script><script>{EMBED}</script></body></html>"
    )


EXTERNAL = re.compile(
    r"\b(?:https?|ftp|wss?):(?://|\\/\\/)"  # an absolute URL
    r"|(?:src|href|action|poster|srcset|data)\s*=\s*[\"']?\s*//"  # protocol-relative
    r"|url\(\s*[\"']?\s*(?!data:)[^)\s]"  # CSS url(...) other than data:
    r"|@import",
    re.IGNORECASE,
)


class ExternalReference(ValueError):
    """The page would reference something outside itself."""


def external_references(page: str) -> list[str]:
    """Every external reference in ``page`` outside the inlined chart library."""
    own = page.replace(library_bundle(), "")
    return [own[max(0, m.start() - 40) : m.end() + 40] for m in EXTERNAL.finditer(own)]


def write_page(page: str, target: Path) -> Path:
    """Write ``page`` to ``target`` atomically (temp file + rename) after refusing any
    external reference: a reader sees the old page or the new one, never half of one."""
    found = external_references(page)
    if found:
        raise ExternalReference(
            f"{target}: the page must not reference anything external, found: {found[:3]}"
        )
    atomic_write(target, page.encode())
    return target


def write_dashboard(db_path: Path, target: Path) -> Path:
    """Draw the page from the views in ``db_path`` and write it to ``target``."""
    with open_views(db_path) as con:
        page = render_page(con, datetime.now(UTC))
    return write_page(page, target)
