"""The dashboard's drawing alone, its sections one at a time against two at once.

    python -m bench.draw WAREHOUSE [--runs 7]

Draws the page of an existing warehouse (e.g. a copy of ``bench/out/10y/warehouse`` after a
daily run) in this process: one unmeasured drawing (it pays the process's one-time costs),
then ``--runs`` drawings with :data:`paperlake.dashboard.page.PAGE_THREADS` at 1 and at 2,
alternated so both see the same load.  Prints the median wall and CPU seconds of each, the
load average, and whether the two pages are the same bytes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from paperlake.dashboard import page

THREADS = (1, 2)


def draw(db_path: Path, threads: int) -> tuple[float, float, str]:
    """(wall, CPU) seconds of one drawing with ``threads`` sections at once, and the page."""
    page.PAGE_THREADS = threads
    wall, cpu = time.perf_counter(), time.process_time()
    with page.open_views(db_path) as con:
        html = page.render_page(con, datetime(2000, 1, 1, tzinfo=UTC))
    return time.perf_counter() - wall, time.process_time() - cpu, html


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    db_path = args.warehouse / "paperlake.duckdb"
    draw(db_path, THREADS[-1])
    walls: dict[int, list[float]] = {n: [] for n in THREADS}
    cpus: dict[int, list[float]] = {n: [] for n in THREADS}
    pages: dict[int, set[str]] = {n: set() for n in THREADS}
    load = os.getloadavg()[0]
    for _ in range(args.runs):
        for threads in THREADS:
            wall, cpu, html = draw(db_path, threads)
            walls[threads].append(wall)
            cpus[threads].append(cpu)
            pages[threads].add(html)
    load = (load + os.getloadavg()[0]) / 2
    for threads in THREADS:
        print(
            f"{threads} section(s) at once: {statistics.median(walls[threads]):.3f} s wall, "
            f"{statistics.median(cpus[threads]):.3f} s CPU (median of {args.runs})"
        )
    same = len(pages[1] | pages[2]) == 1
    print(f"load average {load:.1f}; the pages are {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
