"""Where a backfill's time goes, next to what the machine and a 40-line loader can do.

    python -m bench.backfill --scale 1y 10y 30y [--no-cli] [--no-write] [--label after]

From one run, on the same synthetic dumps (``bench.generate``, generated once under
``bench/out/<scale>/dumps``), each measurement in its own process (``bench.worker``):

* the stage profile of each backfill: seconds (wall and process CPU) in each function of
  :data:`STAGES`, each counted *exclusive* of the other stages it calls, and what is left
  (Prefect's task machinery and the flow's own glue);
* the raw floor (read + sha256 of every input byte) and the yardstick: the one-pass DuckDB
  loader of issue 19 (:data:`YARDSTICK_SQL`, run by ``bench.worker yardstick``);
* cost per dump at each scale, peak RSS, one new day on the largest warehouse measured;
* a 1-year backfill from the command line, start-up included, with Prefect's temporary
  server and with a configured server, against the naive row-by-row loader.

The machine is shared: every figure is printed next to the load average, and the verdicts
use ratios measured side by side.  When code moves to other modules only :data:`STAGES`
changes.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from bench.generate import SCALES, generate
from bench.results import write_section
from bench.run import raw_floor, worker

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent

STAGES: dict[str, list[str]] = {
    "discover": ["paperlake.sources:discover | paperlake.discover:discover"],
    "archive (read, sha256, write raw)": [
        "paperlake.sources:read_into_archive | paperlake.archive:read_into_archive",
        "paperlake.lake:Warehouse.archiving | paperlake.lake.raw:RawArchive.archiving",
    ],
    "parse": ["paperlake.parse:parse_dump"],
    "validate (Pandera)": ["paperlake.schemas.validate:validate_rows"],
    "normalize (title keys, ids)": ["paperlake.build:_identify | paperlake.frames:_identify"],
    "links": ["paperlake.normalize:extract_links"],
    "entities": ["paperlake.entities:tag_entities"],
    "topics": ["paperlake.topics:Taxonomy.tag_papers", "paperlake.topics:load_taxonomy"],
    "keyphrases": ["paperlake.keyphrases:paper_keyphrases"],
    "terms = search index (BM25)": ["paperlake.keyphrases:paper_terms"],
    "build glue (frames, joins, dedupe)": [
        "paperlake.build:build_batch | paperlake.transform:transform"
    ],
    "summaries: keyphrase_daily": ["paperlake.summaries:keyphrase_daily"],
    "summaries: title_pairs": ["paperlake.summaries:title_pairs"],
    "open lake (attach, recover, known ids)": [
        "paperlake.lake:Warehouse.connect | paperlake.lake.catalog:Catalog.connect",
        "paperlake.lake:Warehouse.recover | paperlake.lake.maintenance:Maintenance.recover",
        "paperlake.build:Known.from_tables | paperlake.transform:Known.from_tables",
    ],
    "write (append to the transaction)": [
        "paperlake.lake:Transaction.append",
        "paperlake.lake:Transaction.replace",
    ],
    "commit": ["paperlake.lake:Transaction.commit"],
    "maintain (compact, expire)": [
        "paperlake.lake:Warehouse.maintain | paperlake.lake.maintenance:Maintenance.maintain"
    ],
    "views": ["paperlake.views.build:ensure_database"],
    "dashboard": ["paperlake.dashboard.page:write_dashboard"],
}
"""Stage -> the functions (``module:qualname``) that do it.  Only this table knows where the
code lives; the profile of a stage is the time spent in its functions minus the time spent
in other stages' functions they call.  ``a | b``: the first of these that exists (the stage
layout is moving from ``build``/``sources``/``lake.py`` to one module per stage)."""

PREFECT_REST = "Prefect + flow glue (total minus stages)"


class StageTimers:
    """Exclusive wall and CPU seconds per stage, from wrappers around :data:`STAGES`."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.cpu: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.calls: dict[str, int] = dict.fromkeys(STAGES, 0)
        self.peak_mb: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        """How far each stage raised the process's peak RSS (the high-water mark)."""
        self._peak = _peak_rss_mb()
        self._local = threading.local()

    def _stack(self) -> list[list[float]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        stack: list[list[float]] = self._local.stack
        return stack

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        stack = self._stack()
        frame = [0.0, 0.0]  # wall and CPU seconds of nested stages
        stack.append(frame)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            stack.pop()
            self.wall[stage] += wall - frame[0]
            self.cpu[stage] += cpu - frame[1]
            self.calls[stage] += 1
            peak = _peak_rss_mb()
            self.peak_mb[stage] += peak - self._peak
            self._peak = peak
            if stack:
                stack[-1][0] += wall
                stack[-1][1] += cpu

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(function, "__wrapped_stage__", None):
            raise SystemExit(f"{function.__qualname__} is listed under two stages")
        timers = self

        if _is_contextmanager(function):

            @functools.wraps(function)
            @contextmanager
            def timed_cm(*args: Any, **kwargs: Any) -> Iterator[Any]:
                with timers.timing(stage), function(*args, **kwargs) as value:
                    yield value

            timed_cm.__wrapped_stage__ = stage  # type: ignore[attr-defined]
            return timed_cm

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with timers.timing(stage):
                return function(*args, **kwargs)

        timed.__wrapped_stage__ = stage  # type: ignore[attr-defined]
        return timed

    def install(self) -> None:
        """Wrap every function of :data:`STAGES` where it is defined and wherever a loaded
        ``paperlake`` module imported it by name."""
        for stage, targets in STAGES.items():
            for target in targets:
                owner, name, raw = _resolve(target)
                if isinstance(raw, classmethod):
                    setattr(owner, name, classmethod(self.wrap(stage, raw.__func__)))
                    continue
                wrapped = self.wrap(stage, raw)
                setattr(owner, name, wrapped)
                if isinstance(owner, type):  # a method: callers look it up on the class
                    continue
                for other in list(sys.modules.values()):
                    if getattr(other, "__name__", "").startswith("paperlake"):
                        for key, value in list(vars(other).items()):
                            if value is raw:
                                setattr(other, key, wrapped)


def _resolve(target: str) -> tuple[Any, str, Any]:
    """(the module or class holding it, its name, the function) for a :data:`STAGES` entry."""
    for alternative in target.split("|"):
        module_name, qualname = alternative.strip().split(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *path, name = qualname.split(".")
            for part in path:
                owner = getattr(owner, part)
            return owner, name, vars(owner)[name]
        except (ImportError, AttributeError, KeyError):
            continue
    raise SystemExit(
        f"bench.backfill.STAGES names {target}, which does not exist: "
        "update the table to where the code now lives"
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _is_contextmanager(function: Callable[..., Any]) -> bool:
    """Made by ``@contextmanager`` (which keeps the generator function as ``__wrapped__``)."""
    return inspect.isgeneratorfunction(getattr(function, "__wrapped__", None))


# ---- the yardstick: a one-pass DuckDB loader a skilled user writes ----------------------

YARDSTICK_SQL = r"""
CREATE TEMP TABLE files AS
SELECT filename, regexp_split_to_array(trim(CASE
        WHEN contains(text, ' ' || chr(10)) OR contains(text, chr(9) || chr(10))
        THEN regexp_replace(text, '[ \t]+\n', chr(10), 'g')
        ELSE text END), '\n\n+') AS blocks
FROM (SELECT filename, replace(content, chr(13), '') AS text
      FROM read_text('{folder}/*.txt'));

CREATE TEMP TABLE entries AS
WITH labelled AS (
    SELECT filename, blocks, list_position(list_transform(blocks,
        b -> regexp_full_match(b, '[A-Z][a-z]{{2,8}}\.? \d{{1,2}}')), true) AS l
    FROM files
), pairs AS (
    SELECT filename, blocks[l] AS label, unnest(list_transform(range(1, (len(blocks) - l) // 2 + 1),
        p -> {{'position': p, 'title': replace(blocks[l + 2 * p - 1], chr(10), ' '),
               'abstract': replace(blocks[l + 2 * p], chr(10), ' ')}}), recursive := true)
    FROM labelled WHERE l > 0
)
SELECT *, regexp_replace(lower(nfc_normalize(title)), '[^\p{{L}}\p{{N}}]+', '', 'g') AS key
FROM pairs;

COPY (SELECT filename, label, position, key FROM entries) TO '{out}/listings.parquet';
COPY (SELECT key, any_value(title) AS title, any_value(abstract) AS abstract,
             count(*) AS n_listings FROM entries GROUP BY key) TO '{out}/papers.parquet';
COPY (SELECT DISTINCT key, lower(unnest(regexp_extract_all(abstract,
             'github\.com/([A-Za-z0-9-]+/[A-Za-z0-9._-]+)', 1))) AS repo
      FROM entries) TO '{out}/repos.parquet';
"""
"""Blocks on blank lines, chrome skipped to the date label, titles paired with abstracts,
a normalized title key, GitHub repos by regex, three Parquet files: issue 19's yardstick."""


def one_pass_loader(folder: str, out: str) -> dict[str, float]:
    """Run :data:`YARDSTICK_SQL` (``bench.worker yardstick``); the time includes the import."""
    started, cpu = time.perf_counter(), time.process_time()
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    Path(out).mkdir(parents=True)
    con = duckdb.connect()
    con.execute(YARDSTICK_SQL.format(folder=folder, out=out))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    listings = con.execute(f"SELECT count(*) FROM '{out}/listings.parquet'").fetchone()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "listings": listings[0] if listings else 0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# ---- the command line: start-up included ----------------------------------------------


def _load() -> float:
    return os.getloadavg()[0]


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"  # a loaded machine
    env["PYTHONPATH"] = str(ROOT)  # the code of this tree, whatever the venv installed
    return {**env, **extra}


def timed_cli(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its children) of one command, which must pass."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A ``prefect server start`` on a free port with its own PREFECT_HOME; its API URL.
    Stopped (its process group, which this started) when the block ends."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        argv,
        env=_cli_env(PREFECT_HOME=str(home)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=5):
                    break
            except OSError:
                time.sleep(1)
        else:
            raise SystemExit(f"prefect server did not answer within 180 s: {home / 'server.log'}")
        yield api
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def cli_backfills(folder: Path) -> dict[str, dict[str, float]]:
    """``paperlake ingest FOLDER`` into a fresh warehouse, with a temporary Prefect server and
    with a configured one (booted before, not timed), and the naive loader."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="paperlake-bench-") as tmp:
        home = Path(tmp) / "prefect-home"
        home.mkdir()
        argv = [str(BIN / "paperlake"), "--warehouse", str(Path(tmp) / "wh1"), "ingest"]
        load = _load()
        wall, cpu = timed_cli([*argv, str(folder)], _cli_env(PREFECT_HOME=str(home)))
        results["temporary server"] = {"wall": wall, "cpu": cpu, "load": load}
        with prefect_server(home) as api:
            argv[2] = str(Path(tmp) / "wh2")
            load = _load()
            env = _cli_env(PREFECT_HOME=str(home), PREFECT_API_URL=api)
            wall, cpu = timed_cli([*argv, str(folder)], env)
            results["configured server"] = {"wall": wall, "cpu": cpu, "load": load}
        load = _load()
        naive = worker("baseline", str(folder), str(Path(tmp) / "naive.duckdb"))
        results["naive row-by-row loader"] = {"wall": naive["seconds"], "cpu": 0.0, "load": load}
    return results


# ---- the run --------------------------------------------------------------------------


SCALE_DUMPS = {"1y": SCALES["1y"], "10y": SCALES["10y"], "30y": 3 * SCALES["10y"]}
"""Dumps per scale.  The contracts accept page dates from 2015 to today only, so 30 years of
dumps (10,950) are three 10-year runs of the generator (seeds 7, 8, 9) over the same dates,
as if the page were captured three times a day: three times the papers and listings."""


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
    floor_s, n_bytes = raw_floor(folder)
    load = _load()
    yardstick = worker("yardstick", str(folder), str(OUT / scale / "yardstick"))
    profile = worker("profile", str(folder), str(OUT / scale / "warehouse"))
    print(f"{scale}: backfill {profile['seconds']:.1f} s (load {load:.1f})", file=sys.stderr)
    return {
        "scale": scale,
        "dumps": len(list(folder.glob("*.txt"))),
        "mb": n_bytes / 1e6,
        "floor_s": floor_s,
        "yardstick": yardstick,
        "profile": profile,
        "load": (load + _load()) / 2,
    }


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
        row("dumps / MB", [f"{r['dumps']:,} / {r['mb']:.0f}" for r in results]),
        row("load average (1 min) while measured", [f"{r['load']:.1f}" for r in results]),
        row("raw floor: read + sha256 (s)", [f"{r['floor_s']:.2f}" for r in results]),
        row(
            "one-pass DuckDB loader, wall / CPU (s)",
            [f"{r['yardstick']['seconds']:.2f} / {r['yardstick']['cpu']:.2f}" for r in results],
        ),
        row("backfill work, wall (s)", [f"{r['profile']['seconds']:.2f}" for r in results]),
        row("backfill work, CPU (s)", [f"{r['profile']['cpu']:.2f}" for r in results]),
        row("  x raw floor", [f"{r['profile']['seconds'] / r['floor_s']:.0f}x" for r in results]),
        row(
            "  x one-pass loader, wall / CPU",
            [
                f"{r['profile']['seconds'] / r['yardstick']['seconds']:.1f}x / "
                f"{r['profile']['cpu'] / r['yardstick']['cpu']:.1f}x"
                for r in results
            ],
        ),
        row(
            "cost per dump, wall / CPU (ms of work)",
            [
                f"{1000 * r['profile']['seconds'] / r['dumps']:.2f} / "
                f"{1000 * r['profile']['cpu'] / r['dumps']:.2f}"
                for r in results
            ],
        ),
        row(
            "peak RSS of the backfill (MB)", [f"{r['profile']['peak_rss_mb']:.0f}" for r in results]
        ),
    ]
    if daily is not None:
        lines.append(
            f"\nOne new day on the {daily['scale']} warehouse: {daily['work_s']:.2f} s of work "
            f"(run with one new dump {daily['daily_run_s']:.2f} s minus a run with nothing new "
            f"{daily['noop_run_s']:.2f} s; medians of 3; load {daily['load']:.1f})."
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
        ratio = r["profile"]["seconds"] / r["yardstick"]["seconds"]
        cpu = r["profile"]["cpu"] / r["yardstick"]["cpu"]
        figure = f"{ratio:.1f}x wall, {cpu:.1f}x CPU"
        lines.append(
            line("10-year work within 2x the one-pass loader", figure, max(ratio, cpu) <= 2)
        )
    if "1y" in by and "30y" in by:
        ratios = [
            (by["30y"]["profile"][k] / by["30y"]["dumps"])
            / (by["1y"]["profile"][k] / by["1y"]["dumps"])
            for k in ("seconds", "cpu")
        ]
        figure = f"{ratios[0]:.2f}x wall, {ratios[1]:.2f}x CPU"
        lines.append(
            line("cost per dump at 30 years within 1.3x of 1 year", figure, max(ratios) <= 1.3)
        )
    if "30y" in by:
        rss = by["30y"]["profile"]["peak_rss_mb"]
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
    return "\n".join(lines)


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
        load = _load()
        folder, warehouse = str(dumps_for(scale)), str(OUT / scale / "warehouse")
        first, *days = map(str, next_days(scale, 4))
        day = worker("profile_day", folder, warehouse, first)
        profiled.append({"scale": f"new day ({scale})", "profile": day})
        daily = {**worker("incremental", folder, warehouse, *days)}
        daily.update(scale=scale, load=(load + _load()) / 2)
    cli = None if args.no_cli else cli_backfills(dumps_for("1y"))
    text = "\n\n".join(
        [
            f"Measured {date.today()} with `python -m bench.backfill --scale "
            f"{' '.join(args.scale)}` on {os.cpu_count()} cores shared with other sessions "
            "(load average beside each figure: compare ratios and CPU seconds).",
            "Stage profile (exclusive seconds per stage; `bench.backfill.STAGES` maps each "
            "stage to its functions):",
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
