"""A backfill's ``title_words`` stage alone, at several slice sizes.

``python -m bench.title_words WAREHOUSE [--mib 4 2 1]`` takes a warehouse a backfill wrote
(e.g. the one ``python -m bench.worker backfill bench/out/30y/dumps WH`` leaves), deletes
its ``title_words`` inside a transaction and indexes every title again as a backfill's
summaries do (slices of ``--mib`` MiB of title keys: query, ``validate_derived``, append),
each slice size in a fresh process (so its peak RSS is its own), and prints per size the
CPU seconds, the peak RSS above the RSS before the stage (sampled every 5 ms), the rows and
the load average.  Nothing is committed: the transaction is rolled back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(warehouse: str, slice_bytes: int) -> dict[str, float]:
    """The stage once in this process, ``slice_bytes`` of title keys a slice."""
    import polars as pl

    import paperlake.summaries as summaries
    from paperlake.lake import LAKE, Warehouse
    from paperlake.schemas.tables import PUBLISHED
    from paperlake.schemas.validate import validate_derived

    store = Warehouse(Path(warehouse))
    with store.session(create=False):
        run = store.begin("bench-title-words")
        papers = pl.DataFrame(run.con.sql(f"SELECT paper_id, title_key, title FROM {LAKE}.papers"))
        run.con.execute(f"DELETE FROM {LAKE}.title_words")
        parts = summaries.title_slices(summaries.papers_to_index(run, papers), slice_bytes)
        peak = [before_mb := _rss_mb()]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.005):
                peak[0] = max(peak[0], _rss_mb())

        sampler = threading.Thread(target=sample)
        sampler.start()
        cpu = time.process_time()
        for part in parts:  # as publish.write_summaries writes summarize's parts
            rows = summaries.title_words(run, part)
            model = PUBLISHED["title_words"]
            run.append({"title_words": validate_derived(model, rows, "summary title_words")})
        cpu = time.process_time() - cpu
        done.set()
        sampler.join()
        written = run.rows["title_words"]
        run.rollback()
    return {"cpu": cpu, "peak_mb_above": peak[0] - before_mb, "rows": written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--mib", type=float, nargs="+", default=[4, 2, 1])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.warehouse, args.child)))
        return
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| slice (MiB) | CPU (s) | peak RSS above start (MiB) | rows |\n|---|---|---|---|")
    for mib in args.mib:
        child = [sys.executable, "-m", "bench.title_words", args.warehouse]
        out = subprocess.run(
            [*child, "--child", str(int(mib * 2**20))], check=True, capture_output=True, text=True
        ).stdout
        got = json.loads(out.splitlines()[-1])
        print(f"| {mib:g} | {got['cpu']:.1f} | {got['peak_mb_above']:.0f} | {got['rows']:,} |")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
