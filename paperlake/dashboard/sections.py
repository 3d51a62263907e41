"""The dashboard's sections, in page order: one function each, its query next to its chart.

Each reads the public views (:data:`PAPERS_SQL`: the ``papers`` view's staging views)
through the connection it is given and returns a
:class:`~paperlake.dashboard.format.Section`; the page's headline
figures reuse :data:`TOP_TOPICS_SQL`, :func:`paper_figures` and run health's dumps query.

Measured on a 10-year warehouse and not kept (CPU s, one thread, side by side):

- one query for the papers figures, the repos and the code share, sharing the per-paper and
  per-day aggregates: 0.133 against 0.154 for the three, but it copies the ``repos`` and
  ``papers_without_code`` views into the page, and the other thread waits for it longer;
- ``count(distinct listed_on)`` in ``stg_paper_listing_stats`` again (DuckDB 1.5.5): 0.085
  against 0.071 for :data:`PAPERS_SQL`; ``paper_id`` hashed as ``from_hex`` or BLOB keys:
  slower (the conversion alone costs 0.017 for 200k listings);
- the top topics as an ``IN`` list or ``= any`` instead of ``list_contains``: the same;
- settings: ``dynamic_or_filter_threshold`` 2000, ``validate_external_file_cache``
  ``NO_VALIDATION``, ``enable_external_file_cache`` or ``preserve_insertion_order`` off:
  no gain (the page's CPU -2% to +4%, within the noise);
- :data:`PAPERS_SQL` reading titles only for the ~75 papers it shows (ranked on the numeric
  keys first, every paper tied with the 25th kept for the title to decide): 0.070-0.080
  against 0.064-0.067 (warm).  A title is in a zstd page of its file's column, decoded
  whole: the shown papers are in all 22 files of ``papers``, so their titles cost 0.013,
  as much as all 83k (0.009-0.013), and the ids-only join that still counts the papers
  adds 0.010; ``paper_id IN`` a list is only a row-group filter in DuckDB 1.5.5, and
  ``IN (subquery)`` builds its hash table on the 83k-row side;
- the one-aggregate branch (see :data:`ONE_DUMP_A_DAY_SQL`) inside
  ``stg_paper_listing_stats``, guarded by a scalar subquery (a view takes no parameter):
  0.020 against 0.028 with one dump a day, but 0.070 against 0.056 with two every day (the
  branch not taken still scans the listings);
- the join's sides swapped, or DuckDB's build-side choice off: 0.072 and 0.084 against
  0.071;
- the latest page date as a parameter (the page's own ``max(listed_on)`` query) instead of
  :data:`PAPERS_SQL`'s subquery: 0.0506 against 0.0519, within the noise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from paperlake.dashboard.charts import (
    CHART_HEIGHT,
    COUNT_AXIS,
    WEEK,
    Views,
    channel,
    chart_spec,
    mark,
    records,
    window_bars,
)
from paperlake.dashboard.format import Section, count, day, table, text
from paperlake.dashboard.health import run_health

TOP_TOPICS = 8
TOP_BARS = 12
TABLE_ROWS = 25
RISING_DAYS = 28
"""Rising entities compare the last 28 days with the 28 before."""


TOP_TOPICS_SQL = (
    "select topic from topic_frequency group by topic order by sum(n_papers) desc, topic limit ?"
)
"""The topics with the most papers over all page days, a paper counted on each day it is
listed (ties by name)."""
ONE_DUMP_A_DAY_SQL = """
select count(*) = 0 from (
    select listed_on from listings group by listed_on having count(distinct dump_id) > 1
)
"""
"""Whether every page date's listings come from one dump.  A dump lists a paper once (the
Listings contract), so then no paper is listed twice on a date: its page days are its dumps
and :data:`PAPERS_SQL` needs no per-date aggregate.  At 10 years this check costs 0.004 s of
CPU, the aggregate it spares 0.015."""
PAPERS_SQL = """
with listing_stats as (
    select paper_id, first_listed_on, last_listed_on, n_dumps, n_listing_days
    from internal.stg_paper_listing_stats
    where not $one_dump_a_day
    union all
    select
        paper_id,
        min(listed_on) as first_listed_on,
        max(listed_on) as last_listed_on,
        count(*) as n_dumps,
        count(*) as n_listing_days
    from listings
    where $one_dump_a_day
    group by paper_id
),
p as materialized (
    select paper_id, title, n_dumps, n_listing_days, first_listed_on, last_listed_on
    from internal.stg_papers
    inner join listing_stats using (paper_id)
),
repeated as (
    select title, n_listing_days, n_dumps, first_listed_on, last_listed_on
    from p where n_dumps >= 2
    order by n_listing_days desc, n_dumps desc, last_listed_on desc, title limit $rows
),
on_page as (
    select paper_id, min(position) as position, any_value(listed_on) as listed_on
    from listings where listed_on = (select max(listed_on) from listings)
    group by paper_id
)
select
    (select count(*) from p) as n_papers,
    (select count(*) from p where n_dumps >= 2) as n_repeated,
    (
        select list(r order by n_listing_days desc, n_dumps desc, last_listed_on desc, title)
        from repeated as r
    ) as repeated,
    (
        select list(
            {'title': p.title, 'n_listing_days': p.n_listing_days,
             'first_listed_on': p.first_listed_on, 'listed_on': o.listed_on}
            order by o.position, p.title
        )
        from on_page as o inner join p using (paper_id)
    ) as on_page
"""
"""Every figure the page reads of the papers, in one query: the listings are aggregated per
paper once, so the count of papers, the most repeated ones (days on the page first, then
dumps, the latest, by title) and the latest page's papers share one pass over them (as
three queries, a 10-year page paid it three times: ~0.3 s of CPU).  It joins the ``papers``
view's two staging views itself: the view also counts each paper's repos, which the page
never shows (~10% of the query's CPU at 10 years).

``$one_dump_a_day`` (:data:`ONE_DUMP_A_DAY_SQL`'s answer, a constant when the query is
planned, so DuckDB drops the other branch) picks where each paper's listing figures come
from: with one dump per page date, one aggregate over the listings (a paper's page days are
then its dumps); otherwise ``stg_paper_listing_stats``, which first groups the listings by
paper and date.  At 10 years (one dump a day) the query and the check cost 0.054 s of CPU
instead of 0.065 (warm, one thread, median of 21 alternated, load 3.3); with a date of two
dumps, the check's 0.004 more.  Also measured and not kept: one pass over the join, the
counts and lists as aggregates (the top rows by ``min_by(..., $rows)``) instead of a
materialized CTE read four times: 0.061 against 0.054."""


@dataclass(frozen=True, slots=True)
class PaperFigures:
    n_papers: int
    n_repeated: int
    """Papers listed in more than one dump."""
    repeated: list[dict[str, Any]]
    """The top :data:`TABLE_ROWS` of them, most repeated first."""
    on_page: list[dict[str, Any]]
    """The papers of the latest page date, in page order."""


def paper_figures(con: Views) -> PaperFigures:
    """:data:`PAPERS_SQL`'s figures (the query runs once per drawing: ``Views`` keeps it)."""
    [(one_dump_a_day,)] = con.execute(ONE_DUMP_A_DAY_SQL).fetchall()
    [(n_papers, n_repeated, repeated, on_page)] = con.execute(
        PAPERS_SQL, {"rows": TABLE_ROWS, "one_dump_a_day": one_dump_a_day}
    ).fetchall()
    return PaperFigures(n_papers, n_repeated, repeated or [], on_page or [])


def topic_frequency(con: Views) -> Section:
    top = [topic for (topic,) in con.execute(TOP_TOPICS_SQL, [TOP_TOPICS]).fetchall()]
    rows = records(
        con,
        """
        with page_days as (
            select date_trunc('week', listed_on)::date as week, count(distinct listed_on) as days
            from dumps group by week
        )
        select f.topic, d.week, round(sum(f.n_papers) / any_value(d.days), 1) as per_day,
            any_value(d.days) as days
        from topic_frequency as f
        inner join page_days as d on d.week = date_trunc('week', f.listed_on)::date
        where list_contains(?::varchar[], f.topic)
        group by f.topic, d.week order by d.week, f.topic
        """,
        [top],
    )
    encoding = {
        "x": WEEK,
        "y": channel("per_day:Q", title="papers a page day (weekly mean)"),
        "color": channel("topic:N", legend={"columns": 2, "orient": "bottom", "title": None}),
        "tooltip": [
            channel("topic:N"),
            channel("utcyearmonthdate(week):T", title="week of"),
            channel("per_day:Q", format=",.1f", title="papers a page day"),
            channel("days:Q", format=",d", title="page days that week"),
        ],
    }
    return Section(
        f"Which topics fill the page, week by week? (top {TOP_TOPICS})",
        '<p class="note">Papers with the topic on each page day, averaged over the week\'s '
        "page days: a week with fewer of them (the latest, a gap in the captures) is not a "
        "drop.</p>",
        chart_spec(mark("line", point=len({r["week"] for r in rows}) < 3), encoding, rows),
    )


TRENDING_SQL = """
select topic, share_recent, share_previous, n_recent, n_previous
from trending_topics
where share_recent > coalesce(share_previous, 0)
order by growth_lower desc nulls last, n_recent desc, topic
limit ?
"""
"""The topics whose share of the papers grew (the view's measure): a week with fewer papers
on the page (short captures) lowers every topic's count, not its share."""


def trending_topics(con: Views) -> Section:
    rows = records(con, TRENDING_SQL, [TOP_BARS])
    [(end,)] = con.execute("select max(listed_on) from listings").fetchall()
    return Section(
        "Which topics are trending now?",
        f'<p class="note">Each topic\'s share of the distinct papers listed in the 7 days to '
        f'{day(end)} ("recent") and in the 7 days before; topics with at least 10 recent '
        "papers whose share grew, surest rise first (the view's growth_lower).</p>",
        window_bars(
            rows,
            "topic",
            "share_recent",
            "share_previous",
            "share of the window's papers",
            counts=("n_recent", "n_previous"),
        ),
    )


def repeated_listings(con: Views) -> Section:
    figures = paper_figures(con)
    total = figures.n_repeated
    return Section(
        "Which papers are listed again and again?",
        f'<p class="note">{count(total)} papers appeared in more than one dump; the top '
        f"{min(total, TABLE_ROWS)}:</p>"
        + table(
            ["title", "days on the page", "dumps", "first seen", "last seen"],
            [
                [
                    text(r["title"]),
                    count(r["n_listing_days"]),
                    count(r["n_dumps"]),
                    day(r["first_listed_on"]),
                    day(r["last_listed_on"]),
                ]
                for r in figures.repeated
            ],
            compact={1, 2, 3, 4},
        ),
    )


REPOS_SQL = """
with r as materialized (
    select repo, n_papers, n_listings, first_listed_on, last_listed_on from repos
),
top as (select * from r order by n_listings desc, n_papers desc, repo limit ?)
select top.*, (select count(*) from r where n_listings >= (select min(n_listings) from top))
    as n_as_often
from top order by n_listings desc, n_papers desc, repo
"""
"""The most-linked repos, and how many repos are on the page as often as the last of them
or more (``repos`` read once: a second query over it cost the page ~0.04 s of CPU at 10
years)."""


def most_linked_repos(con: Views) -> Section:
    answer = records(con, REPOS_SQL, [TOP_BARS])
    n_as_often = answer[0]["n_as_often"] if answer else 0
    rows = [{name: v for name, v in row.items() if name != "n_as_often"} for row in answer]
    encoding = {
        "y": channel("repo:N", sort=[r["repo"] for r in rows], title=None),
        "x": channel(
            "n_listings:Q", title="times a paper linking it was on the page", axis=COUNT_AXIS
        ),
        "tooltip": [
            channel("repo:N"),
            channel("n_listings:Q", format=",d", title="times on the page"),
            channel("n_papers:Q", format=",d", title="papers linking it"),
            channel("utcyearmonthdate(first_listed_on):T", title="first seen"),
            channel("utcyearmonthdate(last_listed_on):T", title="last seen"),
        ],
    }
    height = max(CHART_HEIGHT, 24 * len(rows))
    return Section(
        "Which GitHub repos are linked most?",
        _ties_left_out(rows, n_as_often),
        chart_spec(mark("bar", color="#1f6fb4"), encoding, rows, height=height),
    )


def _ties_left_out(rows: list[dict[str, Any]], n_as_often: int) -> str:
    """A note when repos linked as often as the last bar did not fit: the bars shown among
    them are those with the most papers, then the first by name (:data:`REPOS_SQL`)."""
    left_out = n_as_often - len(rows)
    if left_out <= 0:
        return ""
    last = rows[-1]["n_listings"]
    return (
        f'<p class="note">{count(left_out)} more repos were on the page {count(last)} '
        f"time{'' if last == 1 else 's'}, as often as the last bar's: of those, the bars "
        "show the ones linked by the most papers, then by name.</p>"
    )


RISING_SQL = """
with recent as materialized (
    select entity, listed_on, n_papers
    from entity_frequency
    where listed_on > $since::DATE
),

last_day as (
    select max(listed_on) as end_day
    from recent
),

windows as (
    select
        entity,
        coalesce(sum(n_papers) filter (where listed_on > end_day - $days::INTEGER), 0)
            as n_recent,
        coalesce(sum(n_papers) filter (where listed_on <= end_day - $days::INTEGER), 0)
            as n_previous
    from recent cross join last_day
    where listed_on > end_day - 2 * $days::INTEGER
    group by entity
),

rising as (
    select entity, n_recent::bigint as n_recent, n_previous::bigint as n_previous
    from windows where n_recent > n_previous
    order by n_recent - n_previous desc, n_recent desc, entity limit $top
)

select
    (select end_day from last_day) as end_day,
    (
        select list(r order by n_recent - n_previous desc, n_recent desc, entity)
        from rising as r
    ) as rising
"""
"""The last page date of ``entity_frequency`` after ``$since``, and the entities with the
largest gains in the :data:`RISING_DAYS` to it over the :data:`RISING_DAYS` before.  One
query finds the date and counts the windows, over the view's rows after ``$since`` only: as
two queries (the date, then the windows) a 10-year page read the papers' entities twice
(~0.015 s of CPU more)."""


def rising_entity_rows(con: Views) -> list[dict[str, Any]]:
    """:data:`RISING_SQL`'s rows for ``entity_frequency``'s last page date.

    It is looked for among the last ``2 * RISING_DAYS`` page days first: with a constant
    bound DuckDB reads only those days' listings, not the whole view.  If the date found
    there has windows reaching before that bound (the latest page days name no entity), or
    none is found, the query runs again from the start of its windows, or over every day."""
    [(latest,)] = con.execute("select max(listed_on) from listings").fetchall()
    since = date.min if latest is None else latest - timedelta(days=2 * RISING_DAYS)
    while True:
        [(end, rows)] = con.execute(
            RISING_SQL, {"since": since, "days": RISING_DAYS, "top": TOP_BARS}
        ).fetchall()
        start = date.min if end is None else end - timedelta(days=2 * RISING_DAYS)
        if start >= since:
            return rows or []
        since = start


def rising_entities(con: Views) -> Section:
    rows = rising_entity_rows(con)
    return Section(
        "Which methods, models and datasets are rising?",
        f'<p class="note">Papers naming each entity, counted on each page day they are '
        f"listed, in the last {RISING_DAYS} days (recent) and the {RISING_DAYS} before; the "
        "largest gains.</p>",
        window_bars(rows, "entity", "n_recent", "n_previous", "paper-days"),
    )


def code_share(con: Views) -> Section:
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
    encoding = {
        "x": WEEK,
        "y": channel("share_with_code:Q", title="papers linking code", axis={"format": ".0%"}),
        "tooltip": [
            channel("utcyearmonthdate(week):T", title="week of"),
            channel("share_with_code:Q", format=".1%", title="with code"),
            channel("n_papers:Q", format=",d", title="paper-days"),
        ],
    }
    line = mark("line", point=len(rows) < 3, color="#1f6fb4")
    return Section("What share of papers links its code?", chart=chart_spec(line, encoding, rows))


def latest_listing(con: Views) -> Section:
    rows = paper_figures(con).on_page
    latest = rows[0]["listed_on"] if rows else None
    return Section(
        f"What is on the page on {day(latest)}?",
        table(
            ["#", "title", "days on the page", "first seen"],
            [
                [
                    str(rank),
                    text(r["title"])
                    + (' <span class="new">new</span>' if r["first_listed_on"] == latest else ""),
                    count(r["n_listing_days"]),
                    day(r["first_listed_on"]),
                ]
                for rank, r in enumerate(rows, start=1)
            ],
            compact={0, 2, 3},
        ),
    )


SECTIONS: tuple[Callable[[Views], Section], ...] = (
    topic_frequency,
    trending_topics,
    repeated_listings,
    most_linked_repos,
    rising_entities,
    code_share,
    latest_listing,
    run_health,
)

READS_PAPER_FIGURES = frozenset({repeated_listings, latest_listing})
"""The sections that read :func:`paper_figures`, the page's longest query (~0.05 s of CPU
at 10 years), which the headline asks first."""
