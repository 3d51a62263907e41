"""The dashboard's pure parts: the writer's refusals, atomic writes, readable text."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
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
from paperlake.dashboard.charts import Views


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
