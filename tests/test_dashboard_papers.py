"""The dashboard's paper figures (``sections.paper_figures``) against their definition,
computed here in Python from the listings: with one dump per page date, and with a date two
dumps list the same paper on."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from paperlake.dashboard.charts import Views
from paperlake.dashboard.sections import TABLE_ROWS, PaperFigures, paper_figures

LATEST = date(2025, 6, 30)

Listed = dict[str, list[tuple[int, int]]]
"""paper -> its listings, each (days before :data:`LATEST`, the day's dump number)."""

TIED = {f"tied{i:02}": [(1, 1), (2, 1)] for i in range(TABLE_ROWS + 5)}
"""More papers than the table shows, all tied on days, dumps and last day: the titles decide
which of them the table shows."""
ONE_DUMP_A_DAY: Listed = {
    "long": [(0, 1), (3, 1), (9, 1)],
    "longer": [(0, 1), (1, 1), (4, 1), (9, 1)],
    **TIED,
    "once": [(5, 1)],
    "new": [(0, 1)],
    "untitled": [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)],  # no papers row: never shown
}
TWO_DUMPS_ON_A_DAY: Listed = ONE_DUMP_A_DAY | {
    # the second dump of day 2 lists tied05 again and tied07 for the first time that day
    "tied05": [(1, 1), (2, 1), (2, 2)],
    "tied07": [(1, 1), (2, 2)],
    "second": [(2, 2)],
}


def title(paper: str) -> str:
    """Titles sort in another order than the papers' names."""
    return f"{paper[::-1]} paper"


def views_over(listed: Listed) -> duckdb.DuckDBPyConnection:
    """Every view over ``listed`` (positions in the order given) and a papers row for every
    paper but ``untitled``; the other lake tables empty."""
    from paperlake.schemas.tables import PUBLISHED
    from paperlake.views import create_sql_views, create_staging_views, files_source

    con = duckdb.connect()
    con.execute(
        "create table listed (dump_id varchar, listed_on date, position int, paper_id varchar)"
    )
    con.execute(
        "create table titled (paper_id varchar, title_key varchar, title varchar, "
        "abstract varchar, first_dump_id varchar, taxonomy_version varchar)"
    )
    for position, (paper, listings) in enumerate(listed.items(), start=1):
        for before, dump in listings:
            on = LATEST - timedelta(days=before)
            con.execute(
                "insert into listed values (?, ?, ?, ?)", [f"{on}#{dump}", on, position, paper]
            )
        if paper != "untitled":
            con.execute(
                "insert into titled values (?, ?, ?, 'abstract', 'dump', 'v1')",
                [paper, paper, title(paper)],
            )
    sources = {table: files_source(table, []) for table in PUBLISHED}
    create_staging_views(con, sources | {"listings": "listed", "papers": "titled"})
    create_sql_views(con)
    return con


def defined(listed: Listed) -> PaperFigures:
    """The paper figures by their definition."""
    papers: dict[str, dict[str, Any]] = {}
    for paper, listings in listed.items():
        if paper == "untitled":
            continue
        days = [LATEST - timedelta(days=before) for before, _ in listings]
        papers[paper] = {
            "title": title(paper),
            "n_listing_days": len(set(days)),
            "n_dumps": len(listings),
            "first_listed_on": min(days),
            "last_listed_on": max(days),
        }
    repeated = sorted(
        (p for p in papers.values() if p["n_dumps"] >= 2),
        key=lambda p: (
            -p["n_listing_days"],
            -p["n_dumps"],
            -p["last_listed_on"].toordinal(),
            p["title"],
        ),
    )
    latest = max(LATEST - timedelta(days=b) for ls in listed.values() for b, _ in ls)
    on_page = [
        {
            "title": papers[paper]["title"],
            "n_listing_days": papers[paper]["n_listing_days"],
            "first_listed_on": papers[paper]["first_listed_on"],
            "listed_on": latest,
        }
        for paper, listings in listed.items()  # in position order
        if paper in papers and any(LATEST - timedelta(days=b) == latest for b, _ in listings)
    ]
    shown = repeated[:TABLE_ROWS]
    as_often = [p for p in repeated if shown and p["n_listing_days"] >= shown[-1]["n_listing_days"]]
    top = [p for p in repeated if shown and p["n_listing_days"] == shown[0]["n_listing_days"]]
    n_top = len([p for p in top if p["n_dumps"] == shown[0]["n_dumps"]])
    return PaperFigures(len(papers), len(repeated), len(as_often), n_top, shown, on_page)


@pytest.mark.parametrize("listed", [ONE_DUMP_A_DAY, TWO_DUMPS_ON_A_DAY])
def test_paper_figures_are_their_definition(listed: Listed) -> None:
    with views_over(listed) as con, Views(con) as views:
        figures = paper_figures(views)
    assert asdict(figures) == asdict(defined(listed))
    shown, tied = {r["title"] for r in figures.repeated}, {title(paper) for paper in TIED}
    assert shown & tied and tied - shown  # the table ends among the tied papers


def test_with_one_dump_a_day_the_figures_need_no_per_date_aggregate() -> None:
    with views_over(ONE_DUMP_A_DAY) as con:
        # the per-date listing stats, made wrong: the figures must not read them
        con.execute(
            "create or replace view internal.stg_paper_listing_stats as select paper_id, "
            "listed_on as first_listed_on, listed_on as last_listed_on, 0::bigint as n_dumps, "
            "0::bigint as n_listing_days from internal.stg_listings"
        )
        with Views(con) as views:
            figures = paper_figures(views)
    assert asdict(figures) == asdict(defined(ONE_DUMP_A_DAY))


def test_the_repeated_table_says_how_many_more_tied_with_its_last_row() -> None:
    from paperlake.dashboard.sections import repeated_listings

    with views_over(ONE_DUMP_A_DAY) as con, Views(con) as views:
        body = repeated_listings(views).body
    # 30 tied papers on 2 days; the two longer-listed ones take 2 of the 25 rows
    assert "32 papers appeared in more than one dump; the top 25:" in body
    assert "7 more papers were on the page 2 days, as many as the last row" in body
    with views_over({"once": [(0, 1)]}) as con, Views(con) as views:
        body = repeated_listings(views).body
    assert "No paper has appeared in more than one dump yet." in body


def test_the_headline_says_when_the_most_repeated_paper_is_one_of_several() -> None:
    """It named one of 2,770 papers tied at the top (10 years) as "most repeated"."""
    from paperlake.dashboard.page import headline, render_page

    tied: Listed = {"a": [(0, 1), (1, 1)], "b": [(0, 1), (1, 1)], "c": [(0, 1)]}
    with views_over(tied) as con, Views(con) as views:
        assert headline(views).n_top_repeated == 2
    with views_over(tied) as con:
        page = render_page(con, datetime(2025, 7, 1, tzinfo=UTC))
    assert "<span>most repeated (one of 2 tied)</span>" in page
    # a title's bidi override stays inside the title: the "new" badge keeps its place
    assert f'<bdi>{title("c")}</bdi> <span class="new">new</span>' in page
