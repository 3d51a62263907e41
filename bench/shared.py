"""The lake on shared storage (S3 + PostgreSQL catalog) next to the local default, measured
side by side in one run against real servers on 127.0.0.1 (``tests.e2e.servers``).

    python -m bench.shared [--no-write]

* backfill of the 200 real days (``<repo>/../shared/real``, read in place; ``PAPERLAKE_SHARED``
  overrides) into a local warehouse and into ``--lake s3://... --catalog postgres://...``;
* one new day on each (the last real day, its date label moved to the next date);
* a read from a fresh machine (an empty working folder, only the two addresses):
  ``paperlake sql "select count(*) from papers"``, and the same on the local warehouse;
* two writers at once (two processes, two working folders, two new days) into the shared
  lake: total wall, and which lost the commit and ran again (from their output).

Every command runs as ``paperlake`` would (a fresh process) against one Prefect server
started beforehand, so neither side pays a temporary server's boot.  The machine is
shared: each figure comes with the load average and CPU seconds (the command and its
children; for the shared lake also the S3 and PostgreSQL servers' CPU during the command).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path

from bench.cli_backfill import BIN, _cli_env, prefect_server
from bench.common import ROOT, load_average
from bench.results import write_section
from tests.e2e.servers import Postgres, S3Server, lake_env

REAL = Path(os.environ.get("PAPERLAKE_SHARED", ROOT.parent / "shared")) / "real"
COUNT = "select count(*) from papers"
READS = 3
"""Reads per lake; the table shows the medians (each shared read from a new empty folder)."""
LOST = "lost the commit to another writer"


def moved_day(source: Path, day: date, folder: Path) -> Path:
    """A copy of the real dump ``source`` (named ``YYYY-MM-DD_...``) as captured on ``day``:
    its date label (``Nov 11``) and its file name moved to ``day``."""
    old = date.fromisoformat(source.name[:10])
    text = source.read_text()
    label = f"\n\n{old:%b} {old.day}\n\n"
    if label not in text:
        raise SystemExit(f"{source}: no date label {label.strip()!r} to move")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{day.isoformat()}{source.name[10:]}"
    target.write_text(text.replace(label, f"\n\n{day:%b} {day.day}\n\n", 1))
    return target


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its waited-for children, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall, CPU of the commands run, CPU of the servers, and load over one measurement."""

    def __init__(self, servers: list[int]) -> None:
        self.servers = servers

    @contextmanager
    def measure(self, into: dict[str, float]) -> Iterator[None]:
        load = load_average()
        cpu, server = _children_cpu(), self._server_cpu()
        started = time.perf_counter()
        yield
        into["wall"] = time.perf_counter() - started
        into["cpu"] = _children_cpu() - cpu
        into["server_cpu"] = self._server_cpu() - server
        into["load"] = (load + load_average()) / 2

    def _server_cpu(self) -> float:
        return sum(_process_cpu(pid) for pid in self.servers)


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen[bytes], log: Path) -> str:
    """Wait for a command, which must pass; its output."""
    code = process.wait()
    text = log.read_text(errors="replace")
    if code != 0:
        raise SystemExit(f"{process.args!r} failed ({code}):\n{text[-3000:]}")
    return text


class Lake:
    """One lake: how to run ``paperlake`` against it from a machine's working folder."""

    def __init__(self, name: str, env: dict[str, str], flags: list[str], work: Path) -> None:
        self.name, self.env, self.flags, self.work = name, env, flags, work
        self.logs = 0
        work.mkdir(parents=True, exist_ok=True)

    def command(self, machine: str, *argv: str) -> list[str]:
        folder = self.work / machine
        return [str(BIN / "paperlake"), "--warehouse", str(folder), *self.flags, *argv]

    def run(self, machine: str, *argv: str) -> str:
        return finish(*self.start(machine, *argv))

    def start(self, machine: str, *argv: str) -> tuple[subprocess.Popen[bytes], Path]:
        self.logs += 1
        log = self.work / f"{self.logs:02d}-{machine}.log"
        return spawn(self.command(machine, *argv), self.env, log), log


def scenario(local: Lake, shared: Lake, meter: Meter, days: Path) -> dict[str, dict[str, float]]:
    """Every measurement, local and shared side by side; figures by row."""
    rows: dict[str, dict[str, float]] = {}
    last = max(REAL.glob("*.txt"))
    new_day = moved_day(last, date.fromisoformat(last.name[:10]) + timedelta(1), days / "day")
    for lake in (local, shared):
        with meter.measure(rows.setdefault(f"backfill 200 real days: {lake.name}", {})):
            lake.run("machine-a", "ingest", str(REAL))
    counts: dict[str, str] = {}
    for lake in (local, shared):
        reads: list[dict[str, float]] = []
        for n in range(READS):
            machine = "machine-a" if lake is local else f"fresh-{n}"
            figures: dict[str, float] = {}
            with meter.measure(figures):
                output = lake.run(machine, "sql", "--format", "csv", COUNT)
            reads.append(figures)
            counts[lake.name] = output.strip().splitlines()[-1]
        rows[f"read `{COUNT}`: {lake.name}"] = {
            key: statistics.median(read[key] for read in reads) for key in reads[0]
        }
    if counts[local.name] != counts[shared.name]:
        raise SystemExit(f"the two lakes differ after the same backfill: {counts}")
    for lake in (local, shared):
        with meter.measure(rows.setdefault(f"one new day: {lake.name}", {})):
            lake.run("machine-a", "ingest", str(new_day))
    after = date.fromisoformat(new_day.name[:10])
    pair = [
        moved_day(source, after + timedelta(n + 1), days / f"writer-{n}")
        for n, source in enumerate(sorted(REAL.glob("*.txt"))[-2:])
    ]
    figures = rows.setdefault(f"two writers at once (2 new days): {shared.name}", {})
    with meter.measure(figures):
        runs = [shared.start(f"writer-{n}", "ingest", str(day)) for n, day in enumerate(pair)]
        outputs = [finish(process, log) for process, log in runs]
    figures["retried"] = sum(LOST in text for text in outputs)
    print(f"papers after the backfill: {counts[shared.name]} in both lakes")
    return rows


def render(rows: dict[str, dict[str, float]]) -> str:
    lines = [
        "| measurement | wall s | CPU s (commands) | CPU s (S3 + PostgreSQL servers) | load |",
        "|---|---|---|---|---|",
    ]
    for name, f in rows.items():
        server = f"{f['server_cpu']:.1f}" if "shared" in name else "-"
        lines.append(f"| {name} | {f['wall']:.2f} | {f['cpu']:.2f} | {server} | {f['load']:.1f} |")
    retried = next(f["retried"] for name, f in rows.items() if name.startswith("two writers"))
    lines.append(
        f"\nTwo writers at once: both committed; {retried:.0f} of 2 lost the commit race and "
        "ran again (`running again (attempt 2 of 5)` in its output)."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if len(list(REAL.glob("*.txt"))) != 200:
        raise SystemExit(f"expected the 200 real days in {REAL} (set PAPERLAKE_SHARED)")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="paperlake-shared-")))
        # PostgreSQL's folder outside ``tmp``: the postgres user must reach it (mkdtemp is 0700).
        pg_folder = Path(tempfile.mkdtemp(prefix="paperlake-bench-postgres-"))
        stack.callback(shutil.rmtree, pg_folder, True)
        postgres = Postgres(pg_folder)
        postgres.start()
        stack.callback(postgres.stop)
        s3 = S3Server(tmp / "s3")
        stack.callback(s3.stop)
        s3.start()
        assert s3.process is not None
        (tmp / "prefect").mkdir()
        api = stack.enter_context(prefect_server(tmp / "prefect"))
        env = _cli_env(PREFECT_HOME=str(tmp / "prefect"), PREFECT_API_URL=api)
        base = {k: v for k, v in env.items() if not k.startswith(("PAPERLAKE_", "AWS_"))}
        addresses = lake_env(s3, postgres.new_database(), "bench")
        flags = ["--lake", addresses["PAPERLAKE_LAKE"], "--catalog", addresses["PAPERLAKE_CATALOG"]]
        aws = {k: v for k, v in addresses.items() if k.startswith("AWS_")}
        local = Lake("local", base, [], tmp / "local")
        shared = Lake("shared", base | aws, flags, tmp / "shared")
        postmaster = int((pg_folder / "data" / "postmaster.pid").read_text().split()[0])
        rows = scenario(local, shared, Meter([s3.process.pid, postmaster]), tmp / "days")
    text = "\n\n".join(
        [
            f"Measured {date.today()} with `python -m bench.shared` on {os.cpu_count()} cores "
            "shared with other sessions (load average beside each figure). SeaweedFS `weed "
            "mini` and PostgreSQL 15 on 127.0.0.1, one Prefect server for every command "
            "(booted before, not timed); each command is a fresh `paperlake` process, start-up "
            f"included. Reads: medians of {READS}, each shared one from a new empty folder "
            "with only the bucket and catalog addresses.",
            render(rows),
        ]
    )
    print(text)
    if not args.no_write:
        write_section("Shared storage (bench/shared.py)", text)


if __name__ == "__main__":
    main()
