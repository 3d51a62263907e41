"""365 daily runs against one backfill: does the lake stay small and fast under the schedule?

    .venv/bin/python -m bench.daily [--days 365]

Generates ``--days`` synthetic dumps (``bench.generate``), ingests them one flow run per day
into one warehouse (as the daily schedule does) and all at once into another, then prints:
data files and metadata bytes of each, the daily run's wall time at day 1, 10 and the last
(with the load average, the machine being shared), and the slowest public view of each
warehouse (median of 5, the whole result consumed inside DuckDB).  Metadata is every file of
the lake that is not a data file: the catalog (or the old layout's manifests).

The runs take minutes, not a year, so every snapshot would be younger than the default 30-day
retention: ``--retention-days`` (default 0) models the steady state, where the runs older
than the retention have expired.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from bench.generate import generate
from bench.run import view_latencies
from paperlake.cli import _prefect_api

OUT = Path(__file__).resolve().parent / "out" / "daily"


def lake_size(warehouse: Path) -> tuple[int, int]:
    """(data files, metadata bytes) of the warehouse's lake."""
    files = metadata = 0
    for folder in ("lake", "_manifests"):
        for path in (warehouse / folder).rglob("*"):
            if not path.is_file():
                continue
            if path.suffix == ".parquet":
                files += 1
            else:
                metadata += path.stat().st_size
    return files, metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--retention-days", type=float, default=0.0)
    args = parser.parse_args()
    days = args.days

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    unavailable = _prefect_api()  # Prefect's settings; a configured API that does not answer
    if unavailable:
        raise SystemExit(unavailable)
    from paperlake.flows.ingest import ingest

    dumps = generate(days, OUT / "dumps")
    daily, backfill = OUT / "daily-warehouse", OUT / "backfill-warehouse"
    shutil.rmtree(daily, ignore_errors=True)
    shutil.rmtree(backfill, ignore_errors=True)
    ingest(paths=[str(dumps[0])], warehouse=str(OUT / "warm-up"))  # boots Prefect's server
    shutil.rmtree(OUT / "warm-up")

    checkpoints = {1, 10, days}
    for day, dump in enumerate(dumps, start=1):
        started, cpu = time.perf_counter(), time.process_time()
        ingest(paths=[str(dump)], warehouse=str(daily), retention_days=args.retention_days)
        if day in checkpoints or day % 50 == 0:
            files, metadata = lake_size(daily)
            print(
                f"day {day}: run {time.perf_counter() - started:.2f} s "
                f"(cpu {time.process_time() - cpu:.2f} s, load {os.getloadavg()[0]:.1f}), "
                f"{files} data files, {metadata / 1e6:.2f} MB metadata",
                flush=True,
            )
    started = time.perf_counter()
    ingest(paths=[str(OUT / "dumps")], warehouse=str(backfill))
    print(f"backfill of {days} days: {time.perf_counter() - started:.2f} s")

    for name, warehouse in (("daily", daily), ("backfill", backfill)):
        files, metadata = lake_size(warehouse)
        views = view_latencies(warehouse)
        slowest = max(views, key=lambda view: views[view][0])
        print(
            f"{name}: {files} data files, {metadata / 1e6:.2f} MB metadata, slowest view "
            f"`{slowest}` {views[slowest][0] * 1000:.0f} ms, "
            f"papers {views['papers'][0] * 1000:.0f} ms, "
            f"repeated_listings {views['repeated_listings'][0] * 1000:.0f} ms "
            f"(load {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
