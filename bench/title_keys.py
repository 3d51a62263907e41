"""The one-pass ``title_keys`` query of a backfill, with and without its memory limit.

``python -m bench.title_keys WAREHOUSE [--repeat 3]`` takes a warehouse a backfill wrote
(e.g. the one ``python -m bench.worker backfill bench/out/30y/dumps WH`` leaves) and runs
the query a backfill runs for its summaries (every paper new, every title word stored),
each time in a fresh process (so its peak RSS is its own), alternating between
``paperlake.summaries.TITLE_KEYS_MEMORY`` and no limit, and prints per setting the median
CPU seconds, the peak RSS above the process's RSS before the query, the rows, the load
average, and whether both settings gave the same rows.  Nothing is committed: the
transaction is rolled back.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        kb = next(line for line in status if line.startswith("VmRSS")).split()[1]
    return int(kb) / 1024


def measure(warehouse: str, bounded: bool) -> dict[str, float]:
    """One run of the query in this process (``bounded``: under ``TITLE_KEYS_MEMORY``)."""
    import polars as pl

    import paperlake.summaries as summaries
    from paperlake.lake import LAKE, Warehouse

    store = Warehouse(Path(warehouse))
    with store.session(create=False):
        run = store.begin("bench-title-keys")
        papers = pl.DataFrame(run.con.sql(f"SELECT paper_id FROM {LAKE}.papers"))
        words = pl.DataFrame(schema=summaries._WORDS)  # every title word is stored
        if not bounded:
            summaries.TITLE_KEYS_MEMORY = "1000GB"  # above the RAM: as good as no limit
        before_mb, cpu = _rss_mb(), time.process_time()
        with summaries.title_keys(run, papers, words):
            cpu = time.process_time() - cpu
            row = run.con.execute(
                "SELECT count(*), sum(hash(paper_id, word)) FROM temp.title_keys"
            ).fetchone()
        run.rollback()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert row is not None
    return {"cpu": cpu, "peak_mb_above": peak_mb - before_mb, "rows": row[0], "hash": row[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", choices=["bounded", "unbounded"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.warehouse, args.one == "bounded")))
        return
    from paperlake.summaries import TITLE_KEYS_MEMORY

    results: dict[str, list[dict[str, float]]] = {"bounded": [], "unbounded": []}
    for _ in range(args.repeat):
        for setting, runs in results.items():
            command = [sys.executable, "-m", "bench.title_keys", args.warehouse, "--one", setting]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.splitlines()[-1]))
    print(f"title_keys over {args.warehouse} (medians of {args.repeat}, fresh process each)")
    for setting, runs in results.items():
        label = f"memory_limit {TITLE_KEYS_MEMORY}" if setting == "bounded" else "no limit"
        cpu = statistics.median(r["cpu"] for r in runs)
        peak = statistics.median(r["peak_mb_above"] for r in runs)
        rows = runs[0]["rows"]
        print(f"  {label:>20}: {cpu:6.2f} s CPU, +{peak:5.0f} MB peak RSS, {rows:,} rows")
    same = len({(r["rows"], r["hash"]) for runs in results.values() for r in runs}) == 1
    print(f"  same rows with and without the limit: {'yes' if same else 'NO'}")
    print(f"  load average (1 min): {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
