"""Dashboard benchmark: the page's size, the time to draw it, and the time a browser takes
to render every chart, at 1 year and 10 years of synthetic dumps.

    python -m bench.dashboard               # or: --scale 1y 10y

The warehouse is backfilled by the real flow (in a worker process), which writes the page.
Rendering is measured in headless Chromium with the network blocked: from navigation until
every chart's SVG is drawn, median of 3 loads at 1280 px.  The figures are printed and
written to the "Dashboard" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date
from pathlib import Path

from bench.common import OUT, worker
from bench.generate import SCALES, generate
from bench.results import RESULTS, write_section
from paperlake.config import DASHBOARD_NAME
from paperlake.dashboard import library_bundle, write_dashboard
from tests.browser import CHARTS_DRAWN, Browser

RUNS = 3
SECTION = "Dashboard"


def dumps(scale: str) -> Path:
    """The scale's synthetic dumps, generated once and reused."""
    folder = OUT / scale / "dumps"
    if len(list(folder.glob("*.txt"))) != SCALES[scale]:
        for stale in folder.glob("*.txt"):
            stale.unlink()
        generate(SCALES[scale], folder)
    return folder


def draw_seconds(warehouse: Path) -> tuple[float, float]:
    """(wall, CPU) seconds to draw and write the page, median of 3, bundle cached."""
    library_bundle()
    walls, cpus = [], []
    for _ in range(RUNS):
        wall, cpu = time.perf_counter(), time.process_time()
        write_dashboard(warehouse / "paperlake.duckdb", warehouse / DASHBOARD_NAME)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def render_seconds(page: Path) -> tuple[float, int]:
    """Seconds until every chart is drawn (median of 3 loads) and the number of charts."""
    with Browser() as browser:
        browser.resize(1280)
        times = [browser.open(page.as_uri(), CHARTS_DRAWN) for _ in range(RUNS)]
        charts = int(browser.evaluate("document.querySelectorAll('.chart svg.marks').length"))
        problems = browser.errors() + browser.requests()
    if problems:
        raise SystemExit(f"{page}: the page did not render cleanly: {problems[:3]}")
    return statistics.median(times), charts


def measure(scale: str) -> dict[str, float]:
    warehouse = OUT / scale / "dashboard-warehouse"
    backfill = worker("backfill", str(dumps(scale)), str(warehouse))
    page = warehouse / DASHBOARD_NAME
    wall, cpu = draw_seconds(warehouse)
    render, charts = render_seconds(page)
    size = page.stat().st_size
    return {
        "listings": backfill["listings"],
        "mib": size / 2**20,
        "data_kib": (size - len(library_bundle().encode())) / 2**10,
        "draw_wall": wall,
        "draw_cpu": cpu,
        "render": render,
        "charts": charts,
        "load": os.getloadavg()[0],
    }


def render_table(results: dict[str, dict[str, float]]) -> str:
    scales = list(results)
    rows = [
        ("listings in the warehouse", "{:,.0f}", "listings"),
        ("page size (MiB; target < 5)", "{:.2f}", "mib"),
        ("  of which data and markup (KiB; the rest is the Vega library)", "{:.0f}", "data_kib"),
        ("draw + write the page (s wall, median of 3)", "{:.2f}", "draw_wall"),
        ("draw + write the page (s CPU, median of 3)", "{:.2f}", "draw_cpu"),
        ("Chromium: load until every chart is drawn (s, median of 3)", "{:.2f}", "render"),
        ("charts drawn", "{:.0f}", "charts"),
        ("load average (1 min) when measured", "{:.1f}", "load"),
    ]
    lines = [f"| figure | {' | '.join(scales)} |", "|---|" + "---|" * len(scales)]
    lines += [
        f"| {label} | {' | '.join(fmt.format(results[s][key]) for s in scales)} |"
        for label, fmt, key in rows
    ]
    return "\n".join(lines)


def write_results(table: str, scales: list[str]) -> None:
    """Replace the Dashboard section of RESULTS.md (or append it), keeping the rest."""
    write_section(
        SECTION,
        f"Measured {date.today()} on {os.cpu_count()} cores (shared machine: see the load "
        f"average), with `python -m bench.dashboard --scale {' '.join(scales)}`.\n\n{table}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", nargs="+", choices=list(SCALES), default=["1y", "10y"])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    table = render_table({scale: measure(scale) for scale in args.scale})
    print(table)
    if not args.no_write:
        write_results(table, args.scale)
        print(f"\nwritten to {RESULTS.relative_to(OUT.parent.parent)}")


if __name__ == "__main__":
    main()
