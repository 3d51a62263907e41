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
    WEEK,
    Views,
    channel,
    chart_spec,
    count_axis,
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
        select count(*) from p
        where n_dumps >= 2 and n_listing_days >= (select min(n_listing_days) from repeated)
    ) as n_as_often,
    (
        select count(*) from p
        where (n_listing_days, n_dumps) = (
            select (n_listing_days, n_dumps) from repeated
            order by n_listing_days desc, n_dumps desc limit 1
        )
    ) as n_top,
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
    n_as_often: int
    """Papers listed in more than one dump on as many page days as the last row shown, or
    more (the rows shown among them)."""
    n_top: int
    """Papers as repeated as the first row (as many page days and dumps), it among them."""
    repeated: list[dict[str, Any]]
    """The top :data:`TABLE_ROWS` of them, most repeated first."""
    on_page: list[dict[str, Any]]
    """The papers of the latest page date, in page order."""


def paper_figures(con: Views) -> PaperFigures:
    """:data:`PAPERS_SQL`'s figures (the query runs once per drawing: ``Views`` keeps it)."""
    [(one_dump_a_day,)] = con.execute(ONE_DUMP_A_DAY_SQL).fetchall()
    [(n_papers, n_repeated, n_as_often, n_top, repeated, on_page)] = con.execute(
        PAPERS_SQL, {"rows": TABLE_ROWS, "one_dump_a_day": one_dump_a_day}
    ).fetchall()
    return PaperFigures(n_papers, n_repeated, n_as_often, n_top, repeated or [], on_page or [])


WEEKS = """
weeks as (
    select unnest(generate_series(min(week), max(week), interval 7 day))::date as week
    from {weekly}
)"""
"""Every week from the first to the last of ``{weekly}``'s: a week charted with none of its
rows has nulls, which break the chart's line (a line drawn over the weeks with rows only
ran straight across a gap in the captures, and across a week a top topic had no paper)."""
TOPIC_WEEKS_SQL = f"""
with page_days as (
    select date_trunc('week', listed_on)::date as week, count(distinct listed_on) as days
    from dumps group by week
),
{WEEKS.format(weekly="page_days")},
counts as (
    select topic, date_trunc('week', listed_on)::date as week, sum(n_papers) as n
    from topic_frequency where list_contains($top::varchar[], topic) group by all
)
select t.topic, w.week, round(coalesce(c.n, 0) / d.days, 1) as per_day, d.days
from weeks as w
cross join unnest($top::varchar[]) as t(topic)
left join page_days as d using (week)
left join counts as c on c.topic = t.topic and c.week = w.week
order by w.week, t.topic
"""
"""The top topics' papers a page day, week by week: 0 in a week with page days but none of
the topic's papers, null (no point) in a week with no page day."""


def topic_frequency(con: Views) -> Section:
    top = [topic for (topic,) in con.execute(TOP_TOPICS_SQL, [TOP_TOPICS]).fetchall()]
    rows = records(con, TOPIC_WEEKS_SQL, {"top": top})
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
        "drop, and a week with none breaks the line.</p>",
        chart_spec(mark("line", point=len({r["week"] for r in rows}) < 3), encoding, rows),
    )


TRENDING_SQL = """
select topic, share_recent, share_previous, n_recent, n_previous, growth_lower, history_days
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
    chart = window_bars(
        rows,
        "topic",
        "share_recent",
        "share_previous",
        "share of the window's papers",
        counts=("n_recent", "n_previous"),
    )
    return Section(
        "Which topics are trending now?",
        f'<p class="note">Each topic\'s share of the distinct papers listed in the 7 days to '
        f'{day(end)} ("recent") and in the 7 days before; topics with at least 10 recent '
        "papers whose share grew, surest rise first (the view's growth_lower). "
        f"{_how_sure(rows)}</p>",
        chart if rows else None,
    )


def _how_sure(rows: list[dict[str, Any]]) -> str:
    """What the trending bars can be trusted for: a rise is beyond chance when its
    ``growth_lower`` (the share's growth, at least, with 95% confidence) is above 0, and
    there is none to tell before two windows of page days (the bars would all read as
    trending: every topic's share "grew" from nothing)."""
    if not rows:
        return "No topic qualifies yet."
    if any(r["growth_lower"] is None for r in rows):
        return (
            f"Too little history to tell a trend: the page days cover "
            f"{count(rows[0]['history_days'])} of the 14 days the two windows need."
        )
    sure = sum(r["growth_lower"] > 0 for r in rows)
    if not sure:
        return "None of these rises is beyond chance (every growth_lower is 0 or below)."
    return f"{count(sure)} of these {count(len(rows))} rose beyond chance (growth_lower above 0)."


def repeated_listings(con: Views) -> Section:
    figures = paper_figures(con)
    total, shown = figures.n_repeated, figures.repeated
    said = (
        f"{count(total)} papers appeared in more than one dump; the top {len(shown)}:"
        if total
        else "No paper has appeared in more than one dump yet."
    )
    last = shown[-1]["n_listing_days"] if shown else 0
    ties = _ties_left_out(
        figures.n_as_often - len(shown),
        f"papers were on the page {count(last)} day{'' if last == 1 else 's'}, as many as the "
        "last row's",
        "the rows show those in the most dumps, then the latest, then by title",
    )
    return Section(
        "Which papers are listed again and again?",
        f'<p class="note">{said}</p>'
        + ties
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
    last = rows[-1]["n_listings"] if rows else 0
    encoding = {
        "y": channel("repo:N", sort=[r["repo"] for r in rows], title=None),
        "x": channel(
            "n_listings:Q", title="times a paper linking it was on the page", axis=count_axis("x")
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
    ties = _ties_left_out(
        n_as_often - len(rows),
        f"repos were on the page {count(last)} time{'' if last == 1 else 's'}, as often as "
        "the last bar's",
        "the bars show the ones linked by the most papers, then by name",
    )
    return Section(
        "Which GitHub repos are linked most?",
        ties if rows else '<p class="empty">Nothing yet.</p>',
        chart_spec(mark("bar", color="#1f6fb4"), encoding, rows, height=height) if rows else None,
    )


def _ties_left_out(left_out: int, tied: str, shown: str) -> str:
    """A note when ``left_out`` rows tied with the last one shown did not fit: ``tied``
    says how, ``shown`` which of them are shown (a top N read as the only ones)."""
    if left_out <= 0:
        return ""
    return f'<p class="note">{count(left_out)} more {tied}: of those, {shown}.</p>'


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
    ) as rising,
    (
        select count(*) from windows
        where n_recent > n_previous
            and n_recent - n_previous >= (select min(n_recent - n_previous) from rising)
    ) as n_as_much
"""
"""The last page date of ``entity_frequency`` after ``$since``, and the entities with the
largest gains in the :data:`RISING_DAYS` to it over the :data:`RISING_DAYS` before.  One
query finds the date and counts the windows, over the view's rows after ``$since`` only: as
two queries (the date, then the windows) a 10-year page read the papers' entities twice
(~0.015 s of CPU more)."""


def rising_entity_rows(con: Views) -> tuple[list[dict[str, Any]], int]:
    """:data:`RISING_SQL`'s rows for ``entity_frequency``'s last page date.

    It is looked for among the last ``2 * RISING_DAYS`` page days first: with a constant
    bound DuckDB reads only those days' listings, not the whole view.  If the date found
    there has windows reaching before that bound (the latest page days name no entity), or
    none is found, the query runs again from the start of its windows, or over every day.
    Also returns how many entities gained as much as the last row or more (the rows among
    them)."""
    [(latest,)] = con.execute("select max(listed_on) from listings").fetchall()
    since = date.min if latest is None else latest - timedelta(days=2 * RISING_DAYS)
    while True:
        [(end, rows, n_as_much)] = con.execute(
            RISING_SQL, {"since": since, "days": RISING_DAYS, "top": TOP_BARS}
        ).fetchall()
        start = date.min if end is None else end - timedelta(days=2 * RISING_DAYS)
        if start >= since:
            return rows or [], n_as_much
        since = start


def rising_entities(con: Views) -> Section:
    rows, n_as_much = rising_entity_rows(con)
    gain = rows[-1]["n_recent"] - rows[-1]["n_previous"] if rows else 0
    ties = _ties_left_out(
        n_as_much - len(rows),
        f"entities gained {count(gain)} paper-day{'' if gain == 1 else 's'}, as much as the "
        "last bar's",
        "the bars show the ones with the most recent paper-days, then by name",
    )
    return Section(
        "Which methods, models and datasets are rising?",
        f'<p class="note">Papers naming each entity, counted on each page day they are '
        f"listed, in the last {RISING_DAYS} days (recent) and the {RISING_DAYS} before; the "
        f"largest gains.{'' if rows else ' None yet.'}</p>" + ties,
        window_bars(rows, "entity", "n_recent", "n_previous", "paper-days") if rows else None,
    )


def code_share(con: Views) -> Section:
    rows = records(
        con,
        f"""
        with weekly as (
            select
                date_trunc('week', listed_on)::date as week,
                1 - sum(n_without_code) / sum(n_papers) as share_with_code,
                sum(n_papers)::bigint as n_papers
            from papers_without_code group by week
        ),
        {WEEKS.format(weekly="weekly")}
        select week, share_with_code, n_papers
        from weeks left join weekly using (week) order by week
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
        f"What is on the page on {day(latest)}?" if rows else "What is on the latest page?",
        table(
            ["#", "title", "days on the page", "first seen"],
            [
                [
                    str(rank),
                    # isolated: a bidi override in a title turned the badge around
                    f"<bdi>{text(r['title'])}</bdi>"
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
