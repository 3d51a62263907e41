"""Peak memory of ``paperlake sql`` writing a large result: the old path (every row fetched,
then written) against the streamed writers, each in its own process.

    .venv/bin/python -m bench.sql_output --rows 3000000

Prints peak RSS and CPU seconds (user + system) per run, with the load average (the machine
is shared: CPU seconds are steadier than wall time).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from paperlake.lake import Warehouse
from paperlake.views import build_database

OLD_CSV = """
import csv, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
relation = con.sql(sys.argv[2])
with open(sys.argv[3], "w", newline="") as out:
    writer = csv.writer(out, lineterminator="\\n")
    writer.writerow(relation.columns)
    writer.writerows(relation.fetchall())
"""


def measure(argv: list[str]) -> tuple[float, float]:
    """(peak RSS in MiB, CPU seconds) of one child process."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:4]} failed")
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3_000_000)
    rows = parser.parse_args().rows
    query = (
        "select i as paper_number, 'A paper about mixture of experts, number ' || i as title, "
        f"date '2015-01-01' + (i % 3650)::integer as listed_on from range({rows}) t(i)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Warehouse(Path(tmp) / "wh")
        store.root.mkdir()
        build_database(store, store.current())
        cli = [sys.executable, "-m", "paperlake.cli", "--warehouse", str(store.root), "sql"]
        runs = {
            "before: fetchall, then csv": [
                sys.executable, "-c", OLD_CSV, str(store.db_path), query, f"{tmp}/old.csv"
            ],
            "after: --format csv -o": [*cli, query, "--format", "csv", "-o", f"{tmp}/new.csv"],
            "after: --format json -o": [*cli, query, "--format", "json", "-o", f"{tmp}/r.json"],
            "after: --format parquet -o": [
                *cli, query, "--format", "parquet", "-o", f"{tmp}/r.parquet"
            ],
        }  # fmt: skip
        print(f"{rows:,} rows; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("| run | peak RSS (MiB) | CPU (s) | output (MB) |\n|---|---|---|---|")
        for name, argv in runs.items():
            rss, cpu = measure(argv)
            size = Path(argv[-1]).stat().st_size / 1e6
            print(f"| {name} | {rss:.0f} | {cpu:.1f} | {size:.0f} |")


if __name__ == "__main__":
    main()
