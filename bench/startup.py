"""CLI start-up: wall and CPU time of the read-only commands, each in a fresh process.

    .venv/bin/python -m bench.startup [--runs 11] [--warehouse DIR] [--append]

Runs ``paperlake --help`` and ``paperlake sql "select 1"`` (plus ``report`` and ``quarantine``)
as a user would, through the installed ``paperlake`` script, and prints the median wall time
and the median CPU time (user + system of the child) of N runs, next to the load average:
the machine may be shared, and CPU seconds are the steadier figure.  Without ``--warehouse``
the sample dumps are ingested once into a temporary warehouse first (not timed).
``--append`` writes the table to its section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.results import write_section

ROOT = Path(__file__).resolve().parent.parent
PAPERLAKE = Path(sys.executable).parent / "paperlake"
COMMANDS: dict[str, list[str]] = {
    "paperlake --help": ["--help"],
    'paperlake sql "select 1"': ["sql", "select 1"],
    "paperlake quarantine": ["quarantine"],
    "paperlake report": ["report"],
}
TARGET_SECONDS = 0.5
"""The issue's bound for ``--help`` and ``sql "select 1"`` (wall time)."""


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``paperlake argv`` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(PAPERLAKE), *argv], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def sample_warehouse(folder: Path) -> Path:
    root = folder / "warehouse"
    samples = ROOT / "samples" / "dumps"
    argv = ["--warehouse", str(root), "ingest", str(samples), "--captured-on", "2025-03-14"]
    subprocess.run([str(PAPERLAKE), *argv], check=True, capture_output=True)
    return root


def measure(warehouse: Path, runs: int) -> list[tuple[str, float, float]]:
    env = {**os.environ, "PAPERLAKE_WAREHOUSE": str(warehouse)}
    rows = []
    for label, argv in COMMANDS.items():
        timed(argv, env)  # warm the page cache and the bytecode cache
        walls, cpus = zip(*(timed(argv, env) for _ in range(runs)), strict=True)
        rows.append((label, statistics.median(walls), statistics.median(cpus)))
    return rows


def table(rows: list[tuple[str, float, float]], runs: int, load: str) -> list[str]:
    lines = [
        f"CLI start-up, median of {runs} runs each, load average {load} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}):",
        "",
        "| command | wall (s) | CPU (s) |",
        "|---|---|---|",
    ]
    lines += [f"| `{label}` | {wall:.3f} | {cpu:.3f} |" for label, wall, cpu in rows]
    return lines


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--runs", type=int, default=11)
    cli.add_argument("--warehouse", type=Path, help="an existing warehouse to query")
    cli.add_argument(
        "--append", action="store_true", help="write the table to its section of RESULTS.md"
    )
    args = cli.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperlake-startup-") as tmp:
        warehouse = args.warehouse or sample_warehouse(Path(tmp))
        rows = measure(warehouse, args.runs)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = table(rows, args.runs, load)
    for label, wall, _ in rows:
        if label in list(COMMANDS)[:2]:
            verdict = "met" if wall < TARGET_SECONDS else "NOT met"
            lines.append(f"- `{label}` under {TARGET_SECONDS} s: {wall:.3f} s -- {verdict}")
    print("\n".join(lines))
    if args.append:
        stamp = f"{datetime.now(UTC):%Y-%m-%d}, `python -m bench.startup --runs {args.runs}`"
        write_section("CLI start-up", "Measured " + stamp + ".\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
