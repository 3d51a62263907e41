"""The dashboard's pure parts: the writer's refusals, atomic writes, readable text."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from paperlake.dashboard import (
    ExternalReference,
    Section,
    count,
    day,
    external_references,
    render_section,
    table,
    text,
    write_page,
)
from paperlake.dashboard.charts import Answer, Params, Views


@pytest.mark.parametrize(
    "reference",
    [
        '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>',
        '<link rel="stylesheet" href="//fonts.googleapis.com/css2">',
        '<img src="http://tracker.test/pixel.gif">',
        "<style>body { background: url(https://x.test/a.png) }</style>",
        "<style>main { background: url(logo.png) }</style>",
        '<style>@import "theme.css";</style>',
        '<script type="application/json">{"data":{"url":"https:\\/\\/x.test\\/d.json"}}</script>',
        '<IMG SRC="HTTP://tracker.test/pixel.gif">',  # any case
        "<STYLE>main { background: URL(LOGO.PNG) } @IMPORT 'x.css';</STYLE>",
        '<a Data = "//x.test">x</a>',
    ],
)
def test_the_writer_refuses_anything_external(tmp_path: Path, reference: str) -> None:
    target = tmp_path / "dashboard.html"
    with pytest.raises(ExternalReference, match=r"dashboard\.html: the page must not reference"):
        write_page(f"<html><body><p>ok</p>{reference}</body></html>", target)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left


def test_data_text_is_inert(tmp_path: Path) -> None:
    title = "Code: https://github.com/a/b <script>alert(1)</script> & more"
    page = render_section(0, Section(title, table(["title"], [[text(title)]], compact=set())))
    assert external_references(page) == []
    assert "<script>" not in page and "&amp; more" in page
    write_page(page, tmp_path / "page.html")
    assert (tmp_path / "page.html").read_text() == page


def test_a_failed_swap_keeps_the_old_page_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "dashboard.html"
    write_page("<p>old</p>", target)

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        write_page("<p>new</p>", target)
    assert target.read_text() == "<p>old</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard.html"]


def test_a_folder_in_the_way_is_an_error_not_a_half_page(tmp_path: Path) -> None:
    target = tmp_path / "dashboard.html"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        write_page("<p>new</p>", target)
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard.html"]


def test_dates_and_counts_read_like_prose() -> None:
    assert day(date(2025, 3, 4)) == "Mar 4, 2025"
    assert day(datetime(2025, 3, 14, 6, 2, tzinfo=UTC)) == "Mar 14, 2025 06:02 UTC"
    # DuckDB hands a timestamp over in the local zone: the day shown is still UTC's
    tokyo = timezone(timedelta(hours=9))
    assert day(datetime(2025, 3, 15, 5, 35, tzinfo=tokyo)) == "Mar 14, 2025 20:35 UTC"
    assert day(None) == "-"
    assert count(1234567) == "1,234,567" and count(None) == "0"


def test_tables_label_their_cells_for_narrow_screens() -> None:
    html = table(["title", "days on the page"], [["A paper", "3"]], compact={1})
    assert '<td class="text" data-label="title">A paper</td>' in html
    assert '<td class="num" data-label="days on the page">3</td>' in html
    assert table(["title"], [], compact=set()) == '<p class="empty">Nothing yet.</p>'


ASKERS = 8


def test_a_query_asked_by_many_threads_at_once_runs_once() -> None:
    with duckdb.connect() as con:
        con.execute("create sequence asked")
        with Views(con) as views, ThreadPoolExecutor(ASKERS) as pool:
            start = threading.Barrier(ASKERS)

            def ask(_: int) -> list[tuple[object, ...]]:
                start.wait()
                return views.execute("select nextval('asked')").fetchall()

            answers = list(pool.map(ask, range(ASKERS)))
        assert answers == [[(1,)]] * ASKERS
        assert con.execute("select nextval('asked')").fetchall() == [(2,)]


def test_a_failed_query_fails_every_thread_that_asked_it() -> None:
    with duckdb.connect() as con, Views(con) as views, ThreadPoolExecutor(2) as pool:
        start = threading.Barrier(2)

        def ask(_: int) -> BaseException | None:
            start.wait()
            try:
                views.execute("select * from no_such_view")
            except duckdb.CatalogException as exc:
                return exc
            return None

        failures = list(pool.map(ask, range(2)))
    assert all("no_such_view" in str(failure) for failure in failures), failures


LATEST = date(2025, 6, 30)
EVERY_DAY_RISING = """
with ends as (select max(listed_on) as end_day from entity_frequency),
windows as (
    select
        entity,
        coalesce(sum(n_papers) filter (where listed_on > end_day - $days), 0) as n_recent,
        coalesce(sum(n_papers) filter (where listed_on <= end_day - $days), 0) as n_previous
    from entity_frequency cross join ends
    where listed_on > end_day - 2 * $days
    group by entity
)
select entity, n_recent::bigint, n_previous::bigint from windows where n_recent > n_previous
order by n_recent - n_previous desc, n_recent desc, entity
"""
"""Rising entities by their definition: the windows end on ``entity_frequency``'s last day,
found over every day."""


def _views_over(
    listed: dict[str, list[int]],
    named: dict[str, str],
    tagged: dict[str, str] | None = None,
    titled: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Every view over ``listed`` (paper -> page days, as days before :data:`LATEST`; one dump
    a day), ``named`` (paper -> the entity it introduces), ``tagged`` (paper -> its topic)
    and, if ``titled``, a papers row for each listed paper; the other lake tables empty."""
    from paperlake.schemas.tables import PUBLISHED
    from paperlake.views import create_sql_views, create_staging_views, files_source

    con = duckdb.connect()
    con.execute(
        "create table listed (dump_id varchar, listed_on date, position int, paper_id varchar)"
    )
    con.execute("create table named (paper_id varchar, entity varchar, role varchar)")
    for paper, days_before in listed.items():
        for before in days_before:
            on = LATEST - timedelta(days=before)
            con.execute("insert into listed values (?, ?, 1, ?)", [str(on), on, paper])
    for paper, entity in named.items():
        con.execute("insert into named values (?, ?, 'introduces')", [paper, entity])
    con.execute("create table tagged (paper_id varchar, topic varchar)")
    for paper, topic in (tagged or {}).items():
        con.execute("insert into tagged values (?, ?)", [paper, topic])
    sources = {table: files_source(table, []) for table in PUBLISHED}
    sources |= {"listings": "listed", "paper_entities": "named", "paper_topics": "tagged"}
    if titled:
        con.execute(
            "create table titled as select distinct paper_id, paper_id as title_key, "
            "paper_id as title, 'abstract' as abstract, dump_id as first_dump_id, "
            "'v1' as taxonomy_version from listed"
        )
        sources["papers"] = "titled"
    create_staging_views(con, sources)
    create_sql_views(con)
    return con


@pytest.mark.parametrize(
    "listed",
    [
        # the latest page day names entities: one query over the last 56 days
        {"latest": [0], "x1": [0, 3, 40], "x2": [5], "y1": [1], "y2": [30, 31]},
        # the last day naming one is 10 days back: its previous window reaches 66 days
        # back, before the 56 days first looked at (x has 3 and 3, not 3 and 1)
        {"latest": [0], "x1": [10, 15, 20], "x2": [40, 60, 62], "y1": [12, 14], "y2": [45]},
        # none named in the last 56 days: every day is looked at
        {"latest": [0, 1, 2], "x1": [100, 101], "x2": [140], "y1": [120]},
        # none named at all
        {"latest": [0]},
    ],
)
def test_rising_entities_end_on_the_last_day_naming_one(listed: dict[str, list[int]]) -> None:
    from paperlake.dashboard.sections import RISING_DAYS, rising_entity_rows

    named = {paper: paper[0].upper() for paper in listed if paper != "latest"}
    with _views_over(listed, named) as con, Views(con) as views:
        expected = con.execute(EVERY_DAY_RISING, {"days": RISING_DAYS}).fetchall()
        rows, _ = rising_entity_rows(views)
        assert [tuple(row.values()) for row in rows] == expected


def test_trending_topics_are_those_whose_share_grew_not_their_count() -> None:
    from paperlake.dashboard.sections import TRENDING_SQL

    # the week before: 40 papers, 12 on "a" (30%), 20 on "b" (50%); this week only 20 papers
    # (short captures), 10 on "a" (50%: fewer papers, a larger share), 10 on "b" (50%)
    before = {f"p{i}": [8] for i in range(40)}
    recent = {f"r{i}": [1] for i in range(20)}
    before["older"] = [20]  # history enough for both windows
    tagged = {f"p{i}": "a" for i in range(12)} | {f"p{i}": "b" for i in range(12, 32)}
    tagged |= {f"r{i}": "a" for i in range(10)} | {f"r{i}": "b" for i in range(10, 20)}
    with _views_over(before | recent, {}, tagged) as con:
        rows = con.execute(TRENDING_SQL, [12]).fetchall()
    assert [row[:5] for row in rows] == [("a", 0.5, 0.3, 10, 12)]


def test_count_axes_tick_whole_numbers_and_share_bars_show_their_papers() -> None:
    from paperlake.dashboard.charts import count_axis, window_bars

    rows = [{"topic": "a", "share_recent": 0.5, "share_previous": 0.3, "n_r": 10, "n_p": 12}]
    shares = window_bars(rows, "topic", "share_recent", "share_previous", "share", ("n_r", "n_p"))
    assert shares["encoding"]["x"]["axis"] == {"format": ".0%"}
    assert shares["datasets"]["rows"] == [
        {"topic": "a", "window": "recent", "n": 0.5, "papers": 10},
        {"topic": "a", "window": "before", "n": 0.3, "papers": 12},
    ]
    counts = window_bars(rows, "topic", "n_r", "n_p", "papers")
    assert counts["encoding"]["x"]["axis"] == count_axis("x")
    assert "papers" not in counts["datasets"]["rows"][0]


def test_repos_tied_with_the_last_bar_but_left_out_are_said() -> None:
    from paperlake.dashboard.sections import TOP_BARS, most_linked_repos

    con = duckdb.connect()
    con.execute(
        "create table repos as select 'o/r' || i as repo, 1 as n_papers, "
        "case when i < 3 then 5 else 1 end as n_listings, "
        "date '2025-03-14' as first_listed_on, date '2025-03-14' as last_listed_on "
        "from range(20) as t(i)"
    )
    with Views(con) as views:
        section = most_linked_repos(views)
    assert section.chart is not None and len(section.chart["datasets"]["rows"]) == TOP_BARS
    assert "8 more repos were on the page 1 time, as often as the last bar" in section.body
    assert "the ones linked by the most papers, then by name" in section.body
    # exactly the bars' 12: nothing left out
    con.execute(
        "delete from repos where repo in (select repo from repos where n_listings = 1 limit 8)"
    )
    with Views(con) as views:
        assert most_linked_repos(views).body == ""


class Asked(Views):
    """:class:`Views` that keep the text of every query asked."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(con)
        self.asked: list[str] = []

    def execute(self, sql: str, params: Params = None) -> Answer:
        self.asked.append(sql)
        return super().execute(sql, params)


def test_no_section_waits_for_the_papers_query_before_another_is_drawn() -> None:
    from paperlake.dashboard import page, sections

    reading = set()
    with _views_over({"latest": [0]}, {}) as con:
        for build in sections.SECTIONS:
            with Asked(con) as views:
                build(views)
            if sections.PAPERS_SQL in views.asked:
                reading.add(build)
    order = page.draw_order()
    assert sorted(order, key=sections.SECTIONS.index) == list(sections.SECTIONS)
    assert reading and [b in reading for b in order] == sorted(b in reading for b in order)


def test_only_the_library_at_the_pages_end_is_skipped(tmp_path: Path) -> None:
    from paperlake.dashboard.page import EXTERNAL, library_bundle, library_tail

    assert EXTERNAL.search(library_bundle())  # the library names URLs: skipping it matters
    end = "<script>" + library_tail()
    assert external_references("<p>ok</p>" + end) == []
    write_page("<p>ok</p>" + end, tmp_path / "page.html")
    for own in ('<img src="http://tracker.test/p.gif">', f"<script>{library_bundle()}</script>"):
        with pytest.raises(ExternalReference):
            write_page(own + end, tmp_path / "page.html")


def test_rising_entities_tied_with_the_last_bar_are_said() -> None:
    from paperlake.dashboard.sections import TOP_BARS, rising_entities

    listed = {f"p{i}": [0] for i in range(TOP_BARS + 3)} | {"latest": [0]}
    named = {f"p{i}": f"E{i:02}" for i in range(TOP_BARS + 3)}
    with _views_over(listed, named) as con, Views(con) as views:
        section = rising_entities(views)
    assert section.chart is not None
    assert "3 more entities gained 1 paper-day, as much as the last bar's" in section.body
    with _views_over({"latest": [0]}, {}) as con, Views(con) as views:
        section = rising_entities(views)
    assert section.chart is None and "None yet." in section.body


@pytest.mark.parametrize(
    ("growth_lower", "said"),
    [
        ([None, None], "Too little history to tell a trend: the page days cover 3 of the 14"),
        ([-0.2, 0.0], "None of these rises is beyond chance"),
        ([0.3, -0.1], "1 of these 2 rose beyond chance"),
        ([], "No topic qualifies yet."),
    ],
)
def test_the_trending_note_says_how_sure_the_rises_are(
    growth_lower: list[float | None], said: str
) -> None:
    from paperlake.dashboard.sections import _how_sure

    rows = [{"growth_lower": g, "history_days": 3} for g in growth_lower]
    assert said in _how_sure(rows)


def test_a_week_without_page_days_breaks_the_weekly_lines() -> None:
    """Weekly lines ran straight across a gap in the captures, and across a week a top
    topic had no paper; the health chart's area held the last count over the gap."""
    from paperlake.dashboard.health import run_health
    from paperlake.dashboard.sections import TOPIC_WEEKS_SQL, code_share

    con = duckdb.connect()
    days = [date(2025, 3, 3), date(2025, 3, 5), date(2025, 3, 24)]  # Mondays 3/3 and 3/24
    con.execute("create table dumps (ingested_at timestamptz, listed_on date)")
    con.executemany("insert into dumps values (now(), ?)", [[d] for d in days])
    con.execute("create table topic_frequency (topic varchar, listed_on date, n_papers int)")
    con.executemany(
        "insert into topic_frequency values (?, ?, ?)",
        [["a", days[0], 4], ["a", days[1], 2], ["b", days[2], 3]],
    )
    con.execute(
        "create table papers_without_code (listed_on date, n_without_code int, n_papers int)"
    )
    con.executemany("insert into papers_without_code values (?, 1, 4)", [[d] for d in days])
    con.execute(
        "create table quarantine (quarantined_at timestamptz, scope varchar, reason varchar, "
        "source_file varchar, line int, detail varchar)"
    )
    weeks = ["2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24"]
    with Views(con) as views:
        topics = views.execute(TOPIC_WEEKS_SQL, {"top": ["a", "b"]}).fetchall()
        shares = code_share(views).chart
        health = run_health(views).chart
    assert [(t, str(w), n) for t, w, n, _ in topics] == [
        ("a", weeks[0], 3.0), ("b", weeks[0], 0.0), ("a", weeks[1], None), ("b", weeks[1], None),
        ("a", weeks[2], None), ("b", weeks[2], None), ("a", weeks[3], 0.0), ("b", weeks[3], 3.0),
    ]  # fmt: skip
    assert shares is not None and health is not None
    weekly = shares["datasets"]["rows"]
    assert [(r["week"], r["share_with_code"]) for r in weekly] == [
        (weeks[0], 0.75), (weeks[1], None), (weeks[2], None), (weeks[3], 0.75),
    ]  # fmt: skip
    bars = health["datasets"]["rows"]
    assert [(r["week"], r["next_week"], r["n_dumps"]) for r in bars] == [
        (weeks[0], weeks[1], 2), (weeks[3], "2025-03-31", 1),
    ]  # fmt: skip
    assert health["mark"]["type"] == "bar" and health["encoding"]["x2"]["field"] == "next_week"


def test_the_reports_top_topics_count_each_paper_once() -> None:
    """They summed ``topic_frequency``, which counts a paper on each day it is listed."""
    from paperlake.cli import REPORT

    listed = {"p1": [0, 1, 2], "p2": [0]}
    with _views_over(listed, {}, {"p1": "a", "p2": "a"}, titled=True) as con:
        rows = con.execute(REPORT["Top topics (distinct papers per topic, all days)"]).fetchall()
    assert rows == [("a", 2)]
