"""The dashboard in a real browser: Debian's headless Chromium, every network path blocked.

The page is the one the ingest flow wrote; what it shows is compared with the views."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import paperlake.dashboard.sections
from paperlake.config import DASHBOARD_NAME
from paperlake.dashboard import Section
from paperlake.flows.ingest import ingest, retopic
from tests.browser import CHARTS_DRAWN, CHROMIUM, Browser
from tests.conftest import ROOT, SAMPLE_CAPTURE, SAMPLES, query
from tests.dumps import abstract, dump_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def warehouse_with_quarantine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples plus one HTML page (quarantined), ingested by the real flow."""
    landing = tmp_path_factory.mktemp("landing")
    for dump in SAMPLES.iterdir():
        (landing / dump.name).write_bytes(dump.read_bytes())
    (landing / "saved-page.txt").write_bytes(b"<!doctype html><html><body>x</body></html>")
    root = tmp_path_factory.mktemp("dash") / "warehouse"
    summary = ingest(paths=[str(landing)], warehouse=str(root), captured_on=SAMPLE_CAPTURE)
    assert summary.dashboard_error is None and summary.files_quarantined == 1
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with Browser() as page:
        yield page


def test_the_page_draws_offline_and_shows_the_views_numbers(
    warehouse_with_quarantine: Path, browser: Browser, tmp_path: Path
) -> None:
    root = warehouse_with_quarantine
    browser.resize(1280)
    seconds = browser.open((root / DASHBOARD_NAME).as_uri(), CHARTS_DRAWN)
    charts = browser.evaluate("document.querySelectorAll('.chart svg.marks').length")
    drawn_marks = browser.evaluate(
        "document.querySelectorAll('.chart svg.marks g.mark-line path, "
        ".chart svg.marks g.mark-rect path, .chart svg.marks g.mark-area path').length"
    )
    assert charts >= 5 and drawn_marks >= charts, (charts, drawn_marks)
    assert browser.errors() == []
    assert browser.requests() == []
    axes = browser.evaluate(
        "[...document.querySelectorAll('.chart g.role-axis')].map(axis => "
        "[...axis.querySelectorAll('g.role-axis-label text')].map(label => label.textContent))"
    )
    assert [labels for labels in axes if len(set(labels)) < len(labels)] == []  # no "0 1 1"
    described = browser.evaluate(
        "[...document.querySelectorAll('.chart')].map(chart => [chart.getAttribute("
        "'aria-label'), chart.closest('section').querySelector('h2').textContent])"
    )
    assert len(described) == charts and all(label == question for label, question in described)

    [(n_papers,)] = query(root, "select count(*) from papers")
    [(top_topic,)] = query(
        root,
        "select topic from topic_frequency group by topic "
        "order by sum(n_papers) desc, topic limit 1",
    )
    [(top_title,)] = query(
        root,
        "select title from repeated_listings "
        "order by n_listing_days desc, n_dumps desc, last_listed_on desc, title limit 1",
    )
    shown = {
        name: browser.evaluate(f"document.getElementById('{name}').textContent")
        for name in ("n-papers", "top-topic", "top-repeated")
    }
    assert shown == {"n-papers": f"{n_papers:,}", "top-topic": top_topic, "top-repeated": top_title}
    first_repeated = browser.evaluate(
        "[...document.querySelectorAll('h2')].find(h => h.textContent.includes('again and "
        "again')).parentElement.querySelector('tbody td').textContent"
    )
    assert first_repeated == top_title
    body = browser.evaluate("document.body.innerText")
    assert "html (file) 1" in body  # the quarantine, with its reason

    wide = browser.screenshot(tmp_path / "dashboard-1280.png")
    browser.resize(390)
    browser.open((root / DASHBOARD_NAME).as_uri(), CHARTS_DRAWN)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    narrow = browser.screenshot(tmp_path / "dashboard-390.png")
    assert browser.errors() == [] and browser.requests() == []
    print(f"\ndrew {charts} charts in {seconds:.2f} s; screenshots: {wide} {narrow}")


def test_a_failing_dashboard_never_fails_the_run(
    sample_landing: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ingest(paths=[str(sample_landing)], warehouse=str(warehouse))
    page = warehouse / DASHBOARD_NAME
    drawn = page.read_bytes()
    assert first.dashboard_error is None and b'id="top-topic"' in drawn

    def broken_view(con: object) -> Section:
        paperlake.dashboard.records(con, "select * from no_such_view")  # type: ignore[arg-type]
        raise AssertionError("unreachable: the view does not exist")

    monkeypatch.setattr(paperlake.dashboard.sections, "SECTIONS", (broken_view,))
    broken = retopic(warehouse=str(warehouse))
    assert broken.snapshot > first.snapshot  # committed all the same
    assert "no_such_view" in (broken.dashboard_error or "")
    assert any("DASHBOARD not redrawn" in line for line in broken.lines())
    assert page.read_bytes() == drawn  # the last good page stays

    monkeypatch.undo()
    stale = page.stat().st_mtime_ns
    nothing_new = ingest(paths=[str(sample_landing)], warehouse=str(warehouse))
    assert nothing_new.rows["dumps"] == 0 and nothing_new.dashboard_error is None
    assert page.stat().st_mtime_ns > stale  # redrawn: it was left stale by every such run
    empty = sample_landing.parent / "empty"
    empty.mkdir()
    assert (
        ingest(paths=[str(empty)], warehouse=str(warehouse))
        .lines()[0]
        .startswith("nothing new: no input found")
    )
    page.unlink()
    page.mkdir()  # a target that cannot be replaced by a file
    unwritable = retopic(warehouse=str(warehouse))
    assert unwritable.snapshot > broken.snapshot
    assert "dashboard.html" in (unwritable.dashboard_error or "")
    assert list(warehouse.glob(f".{DASHBOARD_NAME}.tmp-*")) == []
    [(n,)] = query(warehouse, "select count(*) from papers")
    assert n == first.rows["papers"]


def test_data_that_reads_as_markup_or_a_reference_is_drawn_as_text(
    sample_landing: Path, landing: Path, warehouse: Path, browser: Browser
) -> None:
    """An entity named ``<!--<script>X1`` kept the HTML parser from ending the charts' JSON
    block (every chart blank, no error); a title or a quarantined file's name holding
    ``url(`` or ``@import`` read as a reference, and the page was never redrawn."""
    ingest(paths=[str(sample_landing)], warehouse=str(warehouse), captured_on=SAMPLE_CAPTURE)
    hostile = landing.parent / "hostile"
    hostile.mkdir()
    titles = [f"<!--<script>X1: a comment-shaped model, part {i}" for i in range(6)]
    titles += ["Detecting phishing from url(s) in e-mails", "@import graphs of LLM code"]
    entries = [(title, abstract(f"case {i} of hostile titles")) for i, title in enumerate(titles)]
    (hostile / "2025-03-17.txt").write_bytes(dump_bytes(entries, label="Mar 17"))
    (hostile / "notes url(1) @import.txt").write_bytes(b"<html>not a dump</html>")
    summary = ingest(paths=[str(hostile)], warehouse=str(warehouse), captured_on=date(2025, 3, 17))
    assert summary.dumps_loaded == 1 and summary.files_quarantined == 1
    assert summary.dashboard_error is None
    browser.open((warehouse / DASHBOARD_NAME).as_uri(), CHARTS_DRAWN)
    body = browser.evaluate("document.body.innerText")
    assert "from url(s) in e-mails" in body and "notes url(1) @import.txt" in body
    assert "<!--<script>X1: a comment-shaped model, part 5" in body
    rising = browser.evaluate("JSON.parse(document.getElementById('specs').textContent)")
    assert "<!--<script>X1" in str(rising)  # the entity is charted, as text
    assert browser.errors() == [] and browser.requests() == []


def test_cli_draws_the_page_without_prefect(
    warehouse_with_quarantine: Path, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.html"
    script = (
        "import sys; from paperlake.cli import main; code = main(sys.argv[1:]); "
        "assert 'prefect' not in sys.modules, 'prefect imported'; sys.exit(code)"
    )
    argv = ["--warehouse", str(warehouse_with_quarantine), "dashboard", "-o", str(target)]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    assert 'id="top-topic"' in target.read_text()


def test_every_chart_is_the_vega_lite_altair_writes(warehouse_with_quarantine: Path) -> None:
    """The specs are plain dicts (no Altair import at ingest): each must pass Altair's
    Vega-Lite schema and come back from Altair unchanged, for the version the page inlines."""
    import altair as alt

    from paperlake.dashboard.charts import VEGA_LITE, Views
    from paperlake.dashboard.page import open_views

    assert alt.SCHEMA_VERSION.lstrip("v").startswith(VEGA_LITE + ".")
    with open_views(warehouse_with_quarantine / "paperlake.duckdb") as con:
        charts = [
            s.chart
            for build in paperlake.dashboard.sections.SECTIONS
            if (s := build(Views(con))).chart
        ]
    assert len(charts) >= 5
    for chart in charts:
        written = alt.Chart.from_dict(chart).to_dict(validate=True)
        written.pop("$schema")
        assert written == chart


def test_sections_drawn_two_at_once_draw_the_page_drawn_one_at_a_time(
    warehouse_with_quarantine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperlake.dashboard import page

    def drawn(threads: int) -> str:
        monkeypatch.setattr(page, "PAGE_THREADS", threads)
        with page.open_views(warehouse_with_quarantine / "paperlake.duckdb") as con:
            return page.render_page(con, datetime(2025, 3, 14, tzinfo=UTC))

    assert drawn(2) == drawn(1)
