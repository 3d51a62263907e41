"""The dashboard's sections, in page order: one function each, its query next to its chart.

Each reads the public views through the connection it is given and returns a
:class:`~paperlake.dashboard.format.Section`; the page's headline
figures reuse :data:`TOP_TOPICS_SQL` and :data:`REPEATED_SQL`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from paperlake.dashboard.charts import (
    CHART_HEIGHT,
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
"""The topics with the most listings over all days (ties by name)."""
REPEATED_SQL = (
    "select title, n_listing_days, n_dumps, first_listed_on, last_listed_on, "
    "count(*) over () as n_repeated "
    "from repeated_listings "
    "order by n_listing_days desc, n_dumps desc, last_listed_on desc, title limit ?"
)
"""The most repeated papers: days on the page first, then dumps, the latest, by title (and
how many papers are repeated)."""


def topic_frequency(con: Views) -> Section:
    top = [topic for (topic,) in con.execute(TOP_TOPICS_SQL, [TOP_TOPICS]).fetchall()]
    rows = records(
        con,
        """
        select topic, date_trunc('week', listed_on)::date as week, sum(n_papers)::bigint as n
        from topic_frequency
        where list_contains(?::varchar[], topic)
        group by all order by week, topic
        """,
        [top],
    )
    encoding = {
        "x": WEEK,
        "y": channel("n:Q", title="listings that week"),
        "color": channel("topic:N", legend={"columns": 2, "orient": "bottom", "title": None}),
        "tooltip": [
            channel("topic:N"),
            channel("utcyearmonthdate(week):T", title="week of"),
            channel("n:Q", format=",d", title="listings"),
        ],
    }
    return Section(
        f"Which topics fill the page, week by week? (top {TOP_TOPICS})",
        '<p class="note">A paper listed on three days counts three times in its week.</p>',
        chart_spec(mark("line", point=len({r["week"] for r in rows}) < 3), encoding, rows),
    )


def trending_topics(con: Views) -> Section:
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


def repeated_listings(con: Views) -> Section:
    rows = con.execute(REPEATED_SQL, [TABLE_ROWS]).fetchall()
    total = rows[0][-1] if rows else 0
    return Section(
        "Which papers are listed again and again?",
        f'<p class="note">{count(total)} papers appeared in more than one dump; the top '
        f"{min(total, TABLE_ROWS)}:</p>"
        + table(
            ["title", "days on the page", "dumps", "first seen", "last seen"],
            [[text(t), count(d), count(n), day(f), day(ls)] for t, d, n, f, ls, _ in rows],
            compact={1, 2, 3, 4},
        ),
    )


def most_linked_repos(con: Views) -> Section:
    rows = records(
        con,
        "select repo, n_papers, n_listings, first_listed_on, last_listed_on from repos "
        "order by n_listings desc, n_papers desc, repo limit ?",
        [TOP_BARS],
    )
    encoding = {
        "y": channel("repo:N", sort=[r["repo"] for r in rows], title=None),
        "x": channel("n_listings:Q", title="times a paper linking it was on the page"),
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
        chart=chart_spec(mark("bar", color="#1f6fb4"), encoding, rows, height=height),
    )


def _last_entity_day(con: Views) -> date | None:
    """``max(listed_on)`` of ``entity_frequency``, looked for among the last page days first:
    with a constant bound DuckDB reads only those days' listings, not the whole view."""
    [(latest,)] = con.execute("select max(listed_on) from listings").fetchall()
    if latest is not None:
        since = latest - timedelta(days=2 * RISING_DAYS)
        [(found,)] = con.execute(
            "select max(listed_on) from entity_frequency where listed_on > ?", [since]
        ).fetchall()
        if found is not None:
            return found
    [(found,)] = con.execute("select max(listed_on) from entity_frequency").fetchall()
    return found


def rising_entities(con: Views) -> Section:
    rows = records(
        con,
        """
        with windows as (
            select
                entity,
                coalesce(sum(n_papers) filter (where listed_on > $end::DATE - $days), 0)
                    as n_recent,
                coalesce(sum(n_papers) filter (where listed_on <= $end::DATE - $days), 0)
                    as n_previous
            from entity_frequency
            where listed_on > $end::DATE - 2 * $days
            group by entity
        )
        select entity, n_recent::bigint as n_recent, n_previous::bigint as n_previous
        from windows where n_recent > n_previous
        order by n_recent - n_previous desc, n_recent desc, entity limit $top
        """,
        {"end": _last_entity_day(con), "days": RISING_DAYS, "top": TOP_BARS},
    )
    return Section(
        "Which methods, models and datasets are rising?",
        f'<p class="note">Listings of papers naming each entity in the last {RISING_DAYS} '
        f"days (recent) and the {RISING_DAYS} before; the largest gains.</p>",
        window_bars(rows, "entity", "n_recent", "n_previous", "listings"),
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
            channel("n_papers:Q", format=",d", title="listings"),
        ],
    }
    line = mark("line", point=len(rows) < 3, color="#1f6fb4")
    return Section("What share of papers links its code?", chart=chart_spec(line, encoding, rows))


def latest_listing(con: Views) -> Section:
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
