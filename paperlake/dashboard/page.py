"""The page: the sections assembled into one HTML file with the chart libraries inlined, and
the writer that refuses any external reference and swaps the file into place atomically."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

import duckdb

from paperlake.dashboard import sections
from paperlake.dashboard.charts import VEGA_LITE, Views
from paperlake.dashboard.format import Section, count, day, text
from paperlake.dashboard.health import DUMPS_SQL
from paperlake.dashboard.sections import TOP_TOPICS, TOP_TOPICS_SQL, paper_figures
from paperlake.lake import atomic_write
from paperlake.views import open_read_only


def open_views(db_path: Path) -> duckdb.DuckDBPyConnection:
    """The one read-only connection the dashboard reads the views through, locked down as
    every user path is (:func:`paperlake.views.open_read_only`), with :data:`READ_SETTINGS`."""
    return open_read_only(db_path.parent, settings=READ_SETTINGS)


READ_SETTINGS = {"threads": 1, "parquet_metadata_cache": True}
"""Each of the page's ~15 small queries runs on one thread (a second one per query cost more
CPU than it saved wall time) and reads each Parquet file's footer once, not once per query
(``python -m bench.backfill``'s new-day profile, stage ``dashboard``)."""

PAGE_THREADS = min(2, os.cpu_count() or 1)
"""Sections drawn at once, each query on its own thread (:class:`Views` gives each thread a
cursor; DuckDB releases the GIL while a query runs).  With a core free, two at once cut a
10-year page's wall time by ~30% for 5-15% more CPU; on a machine whose cores are all busy
they save nothing (``python -m bench.draw``, side by side)."""


def draw_order() -> list[Callable[[Views], Section]]:
    """The order the sections are handed to the threads: page order, but those reading the
    headline's papers query last, so no thread sits waiting for that query while other
    sections are queued (in page order one did: 0.03-0.06 s per drawing of a 10-year page,
    measured at load ~6).  That is wall time only with a core free: at load 3-4 both orders
    drew in the same time (median of 21, alternated)."""
    return sorted(sections.SECTIONS, key=lambda build: build in sections.READS_PAPER_FIGURES)


@dataclass(frozen=True, slots=True)
class Headline:
    n_papers: int
    n_dumps: int
    first_day: date | None
    last_day: date | None
    top_topic: str | None
    top_repeated: str | None
    n_top_repeated: int
    """Papers as repeated as ``top_repeated``, it among them (the headline names one)."""


def headline(con: Views) -> Headline:
    """The figures at the top of the page (the test compares them with the views)."""
    # the sections' own queries: the page runs each once
    papers = paper_figures(con)
    [(_, n_dumps, _, first_day, last_day)] = con.execute(DUMPS_SQL).fetchall()
    topic = con.execute(TOP_TOPICS_SQL, [TOP_TOPICS]).fetchone()
    return Headline(
        papers.n_papers,
        n_dumps,
        first_day,
        last_day,
        topic[0] if topic else None,
        papers.repeated[0]["title"] if papers.repeated else None,
        papers.n_top,
    )


def _most_repeated(tied: int) -> str:
    """The headline's label for the most repeated paper: one of ``tied`` when others are as
    repeated (2,770 at 10 years; the title shown is the latest listed, then by title)."""
    return "most repeated" if tied <= 1 else f"most repeated (one of {tied:,} tied)"


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paperlake"


@functools.cache
def library_bundle() -> str:
    """vega-embed, Vega-Lite (the version the specs are written for) and Vega as one inline
    script.

    Bundling takes ~2 s of CPU, so the result is kept in the user's cache folder, keyed
    by the vl-convert and Vega-Lite versions (a cache only: any failure rebuilds it)."""
    name = f"vega-bundle-vlc{metadata.version('vl-convert-python')}-vl{VEGA_LITE}.js"
    cached = _cache_dir() / name
    with contextlib.suppress(OSError):
        return cached.read_text(encoding="utf-8")
    import vl_convert  # only to build the bundle: a cached one needs no import

    bundle = vl_convert.javascript_bundle("window.vegaEmbed = vegaEmbed;", vl_version=VEGA_LITE)
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
@media print { section { break-inside: avoid; } }
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


_JSON_ESCAPES = tuple((c, f"\\u{ord(c):04x}") for c in "<>&/(@")
"""Characters written as ``\\uXXXX`` in inlined JSON (none occurs outside its strings):
``<`` so that no ``</script>`` or ``<!--<script`` (which keeps the HTML parser from ending
the block: an entity named so blanked every chart) reads as markup, and ``/``, ``(`` and
``@`` so that no data string reads as a URL, ``url(`` or ``@import`` to
:func:`external_references` (a title "... from url(s) ..." stopped the page's redrawing)."""


def _inline_json(value: object) -> str:
    """JSON for a ``<script type="application/json">``, escaped (:data:`_JSON_ESCAPES`).

    One ``str.replace`` per character: ``str.translate`` maps every character through the
    table one at a time (a 10-year page's 0.39 MB of JSON, dumped and escaped: 34 ms of CPU
    with ``translate``, 10 ms with the replaces, the same text)."""
    escaped = json.dumps(value, separators=(",", ":"))
    for character, escape in _JSON_ESCAPES:
        escaped = escaped.replace(character, escape)
    return escaped


def render_section(number: int, section: Section) -> str:
    chart = f'<div class="chart" id="chart-{number}"></div>' if section.chart else ""
    return f"<section><h2>{text(section.question)}</h2>{chart}{section.body}</section>"


def render_page(con: duckdb.DuckDBPyConnection, generated_at: datetime) -> str:
    """The whole page, from the views ``con`` reads."""
    with Views(con) as views, ThreadPoolExecutor(PAGE_THREADS) as pool:
        asked = pool.submit(headline, views)
        building = {build: pool.submit(build, views) for build in draw_order()}
        top, drawn = asked.result(), [building[build].result() for build in sections.SECTIONS]
    # described by its question: a screen reader says it instead of "Vega visualization"
    specs = {
        f"chart-{i}": s.chart | {"description": s.question} for i, s in enumerate(drawn) if s.chart
    }
    kpis = (
        ("papers", "n-papers", count(top.n_papers)),
        ("dumps loaded", "n-dumps", count(top.n_dumps)),
        ("page days", "span", " to ".join(dict.fromkeys([day(top.first_day), day(top.last_day)]))),
        ("top topic", "top-topic", text(top.top_topic or "-")),
        (_most_repeated(top.n_top_repeated), "top-repeated", text(top.top_repeated or "-")),
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
        + "".join(render_section(i, s) for i, s in enumerate(drawn))
        + "</main>"
        f'<script type="application/json" id="specs">{_inline_json(specs)}</script>'
        f"<script>{library_tail()}"
    )


PAGE_END = f"</script><script>{EMBED}</script></body></html>"
"""What follows the inlined chart library: the page ends with :func:`library_tail`."""


@functools.cache
def library_tail() -> str:
    """The page's last part: the chart library (:func:`library_bundle`), then
    :data:`PAGE_END`."""
    return library_bundle() + PAGE_END


EXTERNAL = re.compile(
    # Each alternative starts with one of these characters: the lookahead skips every other
    # position at once (the page outside the library is 0.3 MB at 10 years).
    r"(?=[hfwsapdu@])(?:"
    r"\b(?:https?|ftp|wss?):(?://|\\/\\/)"  # an absolute URL
    r"|(?:src|href|action|poster|srcset|data)\s*=\s*[\"']?\s*//"  # protocol-relative
    r"|url\(\s*[\"']?\s*(?!data:)[^)\s]"  # CSS url(...) other than data:
    r"|@import)",
    re.IGNORECASE,
)


MARKS = ("//", "\\/\\/", "url(", "@import")
"""Text every match of :data:`EXTERNAL` holds, one of these (lower case): a page without
any has no external reference, and the pattern need not scan it (~0.01 s at 10 years)."""


class ExternalReference(ValueError):
    """The page would reference something outside itself."""


def outside_library(page: str) -> str:
    """``page`` without the inlined chart library.

    The library is cut off the page's end, where :func:`render_page` puts it: comparing its
    0.9 MB costs ~0.05 ms, looking for it in a 10-year page ~5 ms of CPU.  A page that does
    not end with it (a test's, a hand-made one) has it removed wherever it is; a second copy
    in a page that does end with it stays, and is checked like the rest."""
    if page.endswith(library_tail()):
        return page[: -len(library_tail())] + PAGE_END
    return page.replace(library_bundle(), "")


def external_references(page: str) -> list[str]:
    """Every external reference in ``page`` outside the inlined chart library."""
    own = outside_library(page)
    lowered = own.lower()
    if not any(mark in lowered for mark in MARKS):
        return []
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
