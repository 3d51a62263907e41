"""Where a backfill's time goes, next to what the machine and a 40-line loader can do.

    python -m bench.backfill --scale 1y 10y 30y [--no-cli] [--no-write] [--label after]

From one run, on the same synthetic dumps (``bench.generate``, generated once under
``bench/out/<scale>/dumps``), each measurement in its own process (``bench.worker``):

* the backfill itself, unprofiled: the headline wall and CPU seconds and peak RSS;
* the stage profile of the same backfill, run again with its chunks one at a time (so each
  second of the process's CPU is charged to the one stage running: with chunks overlapped on
  two threads a stage would also be charged the other thread's work): seconds (wall and
  process CPU) in each function of :data:`bench.stages.STAGES`, each counted *exclusive* of
  the other stages it calls, and what is left (Prefect's task machinery and the flow's own
  glue);
* the raw floor (read + sha256 of every input byte) and the yardstick: the one-pass DuckDB
  loader of issue 19 (``bench.yardstick``, run by ``bench.worker yardstick``), run in turn
  with the backfill :data:`SIDE_BY_SIDE` times;
* cost per dump at each scale, peak RSS, one new day on the largest warehouse measured;
* a 1-year backfill from the command line, start-up included, with Prefect's temporary
  server and with a configured server, against the naive row-by-row loader.

The machine is shared: every figure is printed next to the load average, and the verdicts
use ratios measured side by side.  The stage table and its timers are ``bench.stages``; the
command-line runs ``bench.cli_backfill``.  What stays here (~270 lines) is the run and the
report it prints: its three tables and the verdicts read the same result dicts, together.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from datetime import date
from pathlib import Path
from typing import Any

from bench.cli_backfill import cli_backfills
from bench.common import OUT, inputs, load_average, worker
from bench.generate import SCALES, generate
from bench.results import write_section
from bench.stages import PREFECT_REST, STAGES

SCALE_DUMPS = {"1y": SCALES["1y"], "10y": SCALES["10y"], "30y": 3 * SCALES["10y"]}
"""Dumps per scale.  The contracts accept page dates from 2015 to today only, so 30 years of
dumps (10,950) are three 10-year runs of the generator (seeds 7, 8, 9) over the same dates,
as if the page were captured three times a day: three times the papers and listings."""
SIDE_BY_SIDE = {"1y": 3, "10y": 3, "30y": 1}
"""Runs of the yardstick and the unprofiled backfill per scale, one after the other in turn:
the figures are their medians, each multiple of the loader the median of the pairs' own.  The
loader alone moved ~40% between runs at 10 years (4.7 to 6.8 s over two sessions, one machine),
so one pair read 2.4x for the code another read 2.9x.  30 years: one pair (~80 s)."""
NEW_DAYS = 7
"""New days the daily-run figure is the median of (each a run with nothing new, then one with
the day), printed with their range.  Single days of the same code spread almost 2x (0.54 to
0.94 s in one run, 10-year warehouse, load 1.3): a median of 3 read 0.81 s in the run before
it, 0.59 s with 7."""


def dumps_for(scale: str) -> Path:
    """The scale's dumps, generated once (1y and 10y as ``bench.run`` makes them), then reused."""
    folder = OUT / scale / "dumps"
    if len(list(folder.glob("*.txt"))) != SCALE_DUMPS[scale]:
        shutil.rmtree(folder, ignore_errors=True)
        if scale != "30y":
            generate(SCALES[scale], folder)
            return folder
        for seed in (7, 8, 9):
            for path in generate(SCALES["10y"], folder / f"seed{seed}", seed=seed):
                path.rename(folder / f"{path.stem}-{seed}.txt")
            (folder / f"seed{seed}").rmdir()
    return folder


def next_days(scale: str, n: int) -> list[Path]:
    """The ``n`` days after the scale's last dump, for the daily-run figure."""
    extra = OUT / scale / "next-days"
    shutil.rmtree(extra, ignore_errors=True)
    paths = generate(SCALES[scale] + n, extra)
    for path in paths[: SCALES[scale]]:
        path.unlink()
    return paths[SCALES[scale] :]


def measure(scale: str) -> dict[str, Any]:
    folder = dumps_for(scale)
    figures = inputs(scale, folder)
    load = load_average()
    pairs = []
    for _ in range(SIDE_BY_SIDE[scale]):
        yardstick = worker("yardstick", str(folder), str(OUT / scale / "yardstick"))
        backfill = worker("backfill", str(folder), str(OUT / scale / "warehouse"))
        print(f"{scale}: backfill {backfill['seconds']:.1f} s (load {load:.1f})", file=sys.stderr)
        pairs.append((yardstick, backfill))
    profile = worker("profile", str(folder), str(OUT / scale / "warehouse"))
    return {
        **figures,
        "yardstick": medians([yardstick for yardstick, _ in pairs]),
        "backfill": medians([backfill for _, backfill in pairs]),
        "multiples": {
            key: sorted(backfill[key] / yardstick[key] for yardstick, backfill in pairs)
            for key in ("seconds", "cpu")
        },
        "profile": profile,
        "load": (load + load_average()) / 2,
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over ``runs``; the peak RSS their highest."""
    return {
        key: max(run[key] for run in runs)
        if key == "peak_rss_mb"
        else statistics.median(run[key] for run in runs)
        for key in runs[0]
    }


def multiple(result: dict[str, Any], key: str) -> float:
    """The backfill's median multiple of the loader (``key``: seconds or cpu)."""
    return statistics.median(result["multiples"][key])


def render_profile(results: list[dict[str, Any]]) -> str:
    head = " | ".join(
        f"{r['scale']} wall s (share) | {r['scale']} CPU s | {r['scale']} peak MB+" for r in results
    )
    lines = [f"| stage | {head} |", "|---|" + "---|---|---|" * len(results)]
    for stage in [*STAGES, PREFECT_REST]:
        cells = []
        for r in results:
            p = r["profile"]
            wall = p["stages"][stage]["wall"]
            cpu, peak = p["stages"][stage]["cpu"], p["stages"][stage]["peak_mb"]
            cells.append(f"{wall:.2f} ({wall / p['seconds']:.0%}) | {cpu:.2f} | {peak:.0f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append(
        "| **total (work)** | "
        + " | ".join(
            f"**{r['profile']['seconds']:.2f}** | {r['profile']['cpu']:.2f} | "
            f"{r['profile']['peak_rss_mb']:.0f}"
            for r in results
        )
        + " |"
    )
    return "\n".join(lines)


def top_stages(result: dict[str, Any], n: int = 3) -> str:
    stages = result["profile"]["stages"]
    ranked = sorted(stages, key=lambda s: stages[s]["wall"], reverse=True)[:n]
    total = result["profile"]["seconds"]
    return ", ".join(
        f"{s} {stages[s]['wall']:.1f} s ({stages[s]['wall'] / total:.0%})" for s in ranked
    )


def render_figures(
    results: list[dict[str, Any]], daily: dict[str, Any] | None, cli: dict[str, Any] | None
) -> str:
    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    lines = [
        "| figure | " + " | ".join(r["scale"] for r in results) + " |",
        "|---|" + "---|" * len(results),
        row("dumps / MB", [f"{r['files']:,} / {r['mb']:.0f}" for r in results]),
        row("load average (1 min) while measured", [f"{r['load']:.1f}" for r in results]),
        row("raw floor: read + sha256 (s)", [f"{r['floor_s']:.2f}" for r in results]),
        row(
            "one-pass DuckDB loader, wall / CPU (s; median)",
            [f"{r['yardstick']['seconds']:.2f} / {r['yardstick']['cpu']:.2f}" for r in results],
        ),
        row(
            "backfill work, wall (s; median)", [f"{r['backfill']['seconds']:.2f}" for r in results]
        ),
        row("backfill work, CPU (s; median)", [f"{r['backfill']['cpu']:.2f}" for r in results]),
        row("  x raw floor", [f"{r['backfill']['seconds'] / r['floor_s']:.0f}x" for r in results]),
        row(
            "  x one-pass loader, wall / CPU (median of the pairs)",
            [f"{multiple(r, 'seconds'):.1f}x / {multiple(r, 'cpu'):.1f}x" for r in results],
        ),
        row(
            "  pairs run in turn: wall multiples from, to",
            [
                f"{len(r['multiples']['seconds'])}: {r['multiples']['seconds'][0]:.1f}x, "
                f"{r['multiples']['seconds'][-1]:.1f}x"
                for r in results
            ],
        ),
        row(
            "cost per dump, wall / CPU (ms of work)",
            [
                f"{1000 * r['backfill']['seconds'] / r['files']:.2f} / "
                f"{1000 * r['backfill']['cpu'] / r['files']:.2f}"
                for r in results
            ],
        ),
        row(
            "peak RSS of the backfill (MB)",
            [f"{r['backfill']['peak_rss_mb']:.0f}" for r in results],
        ),
    ]
    if daily is not None:
        lines.append(
            f"\nOne new day on the {daily['scale']} warehouse: {daily['work_s']:.2f} s of work, "
            f"{daily['work_cpu_s']:.2f} s of CPU (run with one new dump "
            f"{daily['daily_run_s']:.2f} s minus a run with nothing new "
            f"{daily['noop_run_s']:.2f} s; medians of {daily['runs']}, work from "
            f"{daily['work_min_s']:.2f} to {daily['work_max_s']:.2f} s; load {daily['load']:.1f}; "
            "flow runs without heartbeats, as on `paperlake ingest`'s own temporary server)."
        )
    if cli is not None:
        lines += [
            "",
            "1-year backfill from the command line, start-up included (fresh warehouse):",
            "",
            "| run | wall s | CPU s (process + children) | load |",
            "|---|---|---|---|",
        ]
        for name, figures in cli.items():
            cpu = f"{figures['cpu']:.1f}" if figures["cpu"] else "-"
            lines.append(f"| {name} | {figures['wall']:.1f} | {cpu} | {figures['load']:.1f} |")
    return "\n".join(lines)


def verdict(
    results: list[dict[str, Any]], daily: dict[str, Any] | None, cli: dict[str, Any] | None
) -> str:
    by = {r["scale"]: r for r in results}

    def line(target: str, figure: str, met: bool) -> str:
        return f"- {target}: {figure} -- {'met' if met else 'NOT met'}"

    lines = []
    if "10y" in by:
        r = by["10y"]
        ratio, cpu = multiple(r, "seconds"), multiple(r, "cpu")
        figure = f"{ratio:.1f}x wall, {cpu:.1f}x CPU"
        lines.append(
            line("10-year work within 2x the one-pass loader", figure, max(ratio, cpu) <= 2)
        )
    if "1y" in by and "30y" in by:
        ratios = [
            (by["30y"]["backfill"][k] / by["30y"]["files"])
            / (by["1y"]["backfill"][k] / by["1y"]["files"])
            for k in ("seconds", "cpu")
        ]
        figure = f"{ratios[0]:.2f}x wall, {ratios[1]:.2f}x CPU"
        lines.append(
            line("cost per dump at 30 years within 1.3x of 1 year", figure, max(ratios) <= 1.3)
        )
    if "30y" in by:
        rss = by["30y"]["backfill"]["peak_rss_mb"]
        lines.append(line("peak RSS under 1 GiB at 30 years", f"{rss:.0f} MB", rss < 1024))
    if daily is not None and daily["scale"] == "10y":
        work = daily["work_s"]
        lines.append(
            line("one new day on a 10-year warehouse under 0.5 s", f"{work:.2f} s", work < 0.5)
        )
    if cli is not None:
        naive = cli["naive row-by-row loader"]["wall"]
        for name in ("temporary server", "configured server"):
            wall = cli[name]["wall"]
            lines.append(
                line(
                    f"1-year backfill from the command line ({name}) faster than the naive loader",
                    f"{wall:.1f} s vs {naive:.1f} s",
                    wall < naive,
                )
            )
    return "\n".join(lines) or "- none measured by this run (they need 10y, 30y or the CLI runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", nargs="+", choices=list(SCALE_DUMPS), default=["1y", "10y"])
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line runs")
    parser.add_argument("--no-daily", action="store_true", help="skip the new-day runs")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--label", default="", help="section title suffix, e.g. 'before'")
    args = parser.parse_args()
    results = [measure(scale) for scale in args.scale]
    daily: dict[str, Any] | None = None
    profiled = list(results)
    scale = "10y" if "10y" in args.scale else args.scale[-1]
    if not args.no_daily and scale != "30y":
        load = load_average()
        folder, warehouse = str(dumps_for(scale)), str(OUT / scale / "warehouse")
        first, *days = map(str, next_days(scale, NEW_DAYS + 1))
        day = worker("profile_day", folder, warehouse, first)
        profiled.append({"scale": f"new day ({scale})", "profile": day})
        daily = {**worker("incremental", folder, warehouse, *days)}
        daily.update(scale=scale, load=(load + load_average()) / 2)
    cli = None if args.no_cli else cli_backfills(dumps_for("1y"))
    text = "\n\n".join(
        [
            f"Measured {date.today()} with `python -m bench.backfill --scale "
            f"{' '.join(args.scale)}` on {os.cpu_count()} cores shared with other sessions "
            "(load average beside each figure: compare ratios and CPU seconds).",
            "Stage profile (exclusive seconds per stage; `bench.stages.STAGES` maps each "
            "stage to its functions; a separate run with its chunks one at a time, so its "
            "total is above the backfill's own, below):",
            render_profile(profiled),
            "Top three stages: " + "; ".join(f"{r['scale']}: {top_stages(r)}" for r in profiled),
            render_figures(results, daily, cli),
            "Targets (issue 19):\n\n" + verdict(results, daily, cli),
        ]
    )
    print(text)
    if not args.no_write:
        title = "Backfill profile (bench/backfill.py)" + (f": {args.label}" if args.label else "")
        write_section(title, text)


if __name__ == "__main__":
    main()
