"""One measurement in a fresh process (so peak RSS and import time are its own).

    python -m bench.worker backfill DUMPS WAREHOUSE
    python -m bench.worker incremental DUMPS WAREHOUSE NEW_DUMP...
    python -m bench.worker baseline DUMPS DB
    python -m bench.worker profile DUMPS WAREHOUSE      (bench.backfill's stage profile)
    python -m bench.worker profile_day DUMPS WAREHOUSE NEW_DUMP  (the same, one new day)
    python -m bench.worker yardstick DUMPS OUT          (bench.backfill's one-pass loader)

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_SETTINGS = ExitStack()
"""Prefect settings held for the rest of the worker's process (it measures one command)."""


def _warm_prefect() -> tuple[float, float]:
    """Import the flow and boot Prefect's temporary server; both are reported, not timed.

    Flows then run without heartbeats, as ``paperlake ingest`` runs them on its one-run
    server (:meth:`paperlake.prefect_server.TemporaryServer.serving`): Prefect 3.9.1 ends a
    flow by joining its heartbeat thread, which sleeps in 1 s steps, so every run would also
    wait 0-1 s at random, idle (it made the new-day figure swing by a second)."""
    started = time.perf_counter()
    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from paperlake.flows.ingest import ingest  # noqa: F401 - the import is what is timed

    imported = time.perf_counter()
    _SETTINGS.enter_context(temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))
    _warm_pandera()

    @flow
    def warm_up() -> None:
        """Starts the temporary server, which every later flow in this process reuses."""

    warm_up()
    return imported - started, time.perf_counter() - imported


def _warm_pandera() -> None:
    """Load Pandera's polars backends, once per process: the first validation loads them
    (in the development venv they import ``hypothesis``: ~0.25 s of CPU), which a daily run
    warmed by a run with nothing new (nothing to validate) would otherwise be charged."""
    import polars as pl

    from paperlake.schemas.tables import PUBLISHED, polars_schema
    from paperlake.schemas.validate import validate_rows

    model = PUBLISHED["dumps"]
    validate_rows(model, pl.DataFrame(schema=polars_schema(model)))


def backfill(dumps: str, warehouse: str) -> dict[str, float]:
    imports, server = _warm_prefect()
    from paperlake.flows.ingest import ingest

    shutil.rmtree(warehouse, ignore_errors=True)
    started, cpu = time.perf_counter(), time.process_time()
    summary = ingest(paths=[dumps], warehouse=warehouse)
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "dumps": summary.dumps_loaded,
        "listings": summary.rows["listings"],
        "imports_s": imports,
        "server_boot_s": server,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _profiled_ingest(dumps: str, warehouse: str) -> dict[str, object]:
    """One ingest with the functions of ``bench.stages.STAGES`` timed (Prefect warm)."""
    from bench.stages import PREFECT_REST, StageTimers
    from paperlake.flows.ingest import ingest

    timers = StageTimers()
    timers.install()
    before_mb = _peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    summary = ingest(paths=[dumps], warehouse=warehouse)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    stages = {
        stage: {
            "wall": timers.wall[stage],
            "cpu": timers.cpu[stage],
            "calls": timers.calls[stage],
            "peak_mb": timers.peak_mb[stage],
        }
        for stage in timers.wall
    }
    stages[PREFECT_REST] = {
        "wall": seconds - sum(timers.wall.values()),
        "cpu": cpu - sum(timers.cpu.values()),
        "calls": 0,
        "peak_mb": _peak_rss_mb() - before_mb - sum(timers.peak_mb.values()),
    }
    return {
        "seconds": seconds,
        "cpu": cpu,
        "dumps": summary.dumps_loaded,
        "listings": summary.rows["listings"],
        "peak_rss_mb": _peak_rss_mb(),
        "stages": stages,
    }


def profile(dumps: str, warehouse: str) -> dict[str, object]:
    """:func:`backfill` with the stages timed, its chunks one at a time and each archived in
    the flow's thread: with two chunks overlapped, or the next one archived meanwhile, a
    stage would be charged the CPU the other thread spends meanwhile."""
    imports, server = _warm_prefect()
    from paperlake.flows import ingest

    ingest.CHUNKS_IN_FLIGHT = 1  # each chunk's result awaited at once
    ingest._archived = ingest._archived_in_turn  # no archive ahead on its own thread
    shutil.rmtree(warehouse, ignore_errors=True)
    return {**_profiled_ingest(dumps, warehouse), "imports_s": imports, "server_boot_s": server}


def profile_day(dumps: str, warehouse: str, new_dump: str) -> dict[str, object]:
    """The stages of one daily run adding ``new_dump`` to an existing warehouse (after one
    run with nothing new, unmeasured, which pays the process's one-time costs)."""
    from paperlake.flows.ingest import ingest

    _warm_prefect()
    ingest(paths=[dumps], warehouse=warehouse)
    landed = Path(dumps) / Path(new_dump).name
    shutil.copy(new_dump, landed)
    try:
        return _profiled_ingest(dumps, warehouse)
    finally:
        landed.unlink()


def yardstick(dumps: str, out: str) -> dict[str, float]:
    from bench.yardstick import one_pass_loader

    return one_pass_loader(dumps, out)


def incremental(dumps: str, warehouse: str, *new_dumps: str) -> dict[str, float]:
    """Daily runs onto an existing warehouse: per new dump, a run with nothing new, then a
    run with that dump (medians; the dumps are removed from the landing folder after)."""
    imports, server = _warm_prefect()
    from paperlake.flows.ingest import ingest

    # The first run in a process also pays one-time costs (Pandera loads its backends):
    # not the daily run's, so it is run once unmeasured.
    ingest(paths=[dumps], warehouse=warehouse)
    noops, dailies, noop_cpu, daily_cpu = [], [], [], []
    added = [Path(dumps) / Path(new).name for new in new_dumps]
    try:
        for new, landed in zip(new_dumps, added, strict=True):
            started, cpu = time.perf_counter(), time.process_time()
            noop = ingest(paths=[dumps], warehouse=warehouse)
            noops.append(time.perf_counter() - started)
            noop_cpu.append(time.process_time() - cpu)
            assert noop.nothing_new, noop.lines()
            shutil.copy(new, landed)
            started, cpu = time.perf_counter(), time.process_time()
            daily = ingest(paths=[dumps], warehouse=warehouse)
            dailies.append(time.perf_counter() - started)
            daily_cpu.append(time.process_time() - cpu)
            assert daily.dumps_loaded == 1, daily.lines()
    finally:
        for landed in added:
            landed.unlink(missing_ok=True)
    works = [d - n for d, n in zip(dailies, noops, strict=True)]
    return {
        "imports_s": imports,
        "server_boot_s": server,
        "noop_run_s": statistics.median(noops),
        "daily_run_s": statistics.median(dailies),
        "work_s": statistics.median(works),
        "work_min_s": min(works),
        "work_max_s": max(works),
        "runs": len(works),
        "work_cpu_s": statistics.median(d - n for d, n in zip(daily_cpu, noop_cpu, strict=True)),
    }


def baseline(dumps: str, db: str) -> dict[str, float]:
    """The loader a user would write first: pandas frames, rows inserted one by one."""
    started = time.perf_counter()
    import duckdb
    import pandas as pd

    Path(db).unlink(missing_ok=True)
    con = duckdb.connect(db)
    con.execute(
        "create table listings (source_file varchar, listed_on varchar, position integer, "
        "title varchar, abstract varchar)"
    )
    label = re.compile(r"^[A-Z][a-z]{2} \d{1,2}$")
    rows_total = 0
    for path in sorted(Path(dumps).iterdir()):
        blocks = [b.strip() for b in re.split(r"\n\s*\n", path.read_text()) if b.strip()]
        start = next(i for i, b in enumerate(blocks) if label.match(b))
        pairs = list(zip(blocks[start + 1 :: 2], blocks[start + 2 :: 2], strict=False))
        frame = pd.DataFrame(
            [
                {
                    "source_file": path.name,
                    "listed_on": blocks[start],
                    "position": n,
                    "title": title,
                    "abstract": text,
                }
                for n, (title, text) in enumerate(pairs, start=1)
            ]
        )
        for row in frame.itertuples(index=False):
            con.execute("insert into listings values (?, ?, ?, ?, ?)", list(row))
            rows_total += 1
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "listings": rows_total,
        "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The temporary server's default 20 s to start is too short on a loaded shared machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    command, *args = sys.argv[1:]
    commands: dict[str, Callable[..., object]] = {
        "backfill": backfill,
        "incremental": incremental,
        "baseline": baseline,
        "profile": profile,
        "profile_day": profile_day,
        "yardstick": yardstick,
    }
    result = commands[command](*args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
