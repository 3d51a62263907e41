"""A 10-year synthetic backfill on Prefect's default task runner vs a Dask LocalCluster of
1 and 2 worker processes (``paperlake ingest --dask --workers N``).

    python -m bench.dask                  # 10y (3,650 dumps), writes bench/RESULTS.md
    python -m bench.dask --scale 1y --no-write

Each configuration runs in a fresh process (``python -m bench.dask --one ...``) with
Prefect's temporary server already up (its boot is excluded, as in ``bench.run``); the
Dask cluster's start and stop are included, since a run pays them.  Wall time on a shared
2-core machine is noise, so every figure comes with the load average and the CPU seconds
of the run's process and of its worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.generate import SCALES
from bench.results import RESULTS, write_section

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CONFIGS = {"default": None, "dask-1": 1, "dask-2": 2}
"""Configuration -> local Dask workers (None: Prefect's default task runner)."""


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def one(config: str, dumps: str, warehouse: str) -> dict[str, float]:
    """One backfill in this process; CPU of the workers is counted once they exit."""
    from prefect import flow

    from paperlake.flows.ingest import ingest
    from paperlake.flows.runners import LOCAL, one_api, task_runner

    @flow
    def warm_up() -> None:
        """Starts the temporary server, which the measured run reuses."""

    warm_up()
    shutil.rmtree(warehouse, ignore_errors=True)
    workers = CONFIGS[config]
    runner = task_runner(LOCAL, workers) if workers else None
    run = ingest.with_options(task_runner=runner) if runner else ingest
    load = os.getloadavg()[0]
    cpu_self, cpu_children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with one_api(runner):
        summary = run(paths=[dumps], warehouse=warehouse)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_flow_s": _cpu(resource.RUSAGE_SELF) - cpu_self,
        "cpu_workers_s": _cpu(resource.RUSAGE_CHILDREN) - cpu_children,
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "dumps": summary.dumps_loaded,
        "listings": summary.rows["listings"],
    }


def measure(config: str, dumps: Path, warehouse: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.dask", "--one", config, str(dumps), str(warehouse)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=os.environ
        | {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",  # a loaded machine
        },
    )
    if result.returncode != 0:
        raise SystemExit(f"bench.dask {config} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def render(scale: str, results: dict[str, dict[str, float]]) -> str:
    base = results["default"]["seconds"]
    lines = [
        f"{scale}: {int(results['default']['dumps']):,} dumps, "
        f"{int(results['default']['listings']):,} listings, default batch size.",
        "",
        "| task runner | wall (s) | vs default | CPU flow process (s) | CPU workers (s) "
        "| load avg before / after |",
        "|---|---|---|---|---|---|",
    ]
    for config, r in results.items():
        lines.append(
            f"| {config} | {r['seconds']:.1f} | {r['seconds'] / base:.2f}x "
            f"| {r['cpu_flow_s']:.1f} | {r['cpu_workers_s']:.1f} "
            f"| {r['load_before']:.1f} / {r['load_after']:.1f} |"
        )
    default_cpu = results["default"]["cpu_flow_s"]
    extra = ", ".join(
        f"{config} {r['cpu_flow_s'] + r['cpu_workers_s'] - default_cpu:+.1f} s"
        for config, r in results.items()
        if config != "default"
    )
    serial = min(r["cpu_flow_s"] for config, r in results.items() if config != "default")
    lines += [
        "",
        f"- CPU beyond the default's {default_cpu:.1f} s: {extra}: each worker process's "
        "start-up and imports, every chunk's bytes pickled out and its tables back, and the "
        "workers' task-run reports to Prefect.",
        f"- Left in the run's own process with Dask: {serial:.1f} s of CPU (discover, "
        "archive, the writes, summaries, the commit, and the Dask scheduler and client): "
        "about the floor a cluster of any size "
        "cannot go below; only the rest is spread over the workers.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=list(SCALES), default="10y")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--one", nargs=3, metavar=("CONFIG", "DUMPS", "WAREHOUSE"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    from bench.run import dumps_for

    dumps, _ = dumps_for(args.scale)
    results = {}
    for config in CONFIGS:
        results[config] = measure(config, dumps, OUT / args.scale / f"warehouse-{config}")
        print(config, json.dumps(results[config]), flush=True)
    table = render(args.scale, results)
    print(table)
    if not args.no_write:
        write_section(
            "Distributed backfill on Dask (bench/dask.py)",
            f"`python -m bench.dask --scale {args.scale}`, {os.cpu_count()} cores.\n\n{table}",
        )
        print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
