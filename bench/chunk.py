"""One chunk's transform, stage by stage, without Prefect or a warehouse.

``python -m bench.chunk [--dumps DIR] [--n 500] [--repeat 3] [--cprofile N]`` reads the first
``n`` dumps of ``DIR`` (default ``bench/out/10y/dumps``), builds their :class:`RawDump` as
the archive would (sha256 included, nothing written) and runs
:func:`paperlake.transform.transform` ``repeat`` times on one thread, printing each stage's
CPU seconds (``bench.stages`` timers; best of the repeats, which, like a run's later chunks,
find what is remembered across chunks already there) and the load average.  Run from another
checkout (``cd OLD && .venv/bin/python THIS/bench/chunk.py --dumps THIS/bench/out/10y/dumps``)
it measures that checkout's code: before and after side by side.  ``--cprofile N`` prints
the N costliest functions of one transform instead.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the tree the command runs from, not this file's
os.environ.setdefault("POLARS_MAX_THREADS", "1")  # one chunk on one thread (before polars)

import paperlake.transform as transform_module
from bench.stages import StageTimers
from paperlake.archive import RawDump
from paperlake.parse import capture_date_from_name
from paperlake.topics import load_taxonomy
from paperlake.transform import Known

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def raws(folder: Path, n: int) -> list[RawDump]:
    out = []
    for path in sorted(folder.glob("*.txt"))[:n]:
        data = path.read_bytes()
        dump_id = hashlib.sha256(data).hexdigest()
        on = capture_date_from_name(path.name)
        assert on is not None, path
        out.append(
            RawDump(str(path), data, len(data), dump_id, f"raw/{dump_id}", 0, on, "file_name")
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dumps", type=Path, default=Path("bench/out/10y/dumps"))
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cprofile", type=int, default=0)
    args = parser.parse_args()
    chunk = raws(args.dumps, args.n)
    if not chunk:
        raise SystemExit(
            f"bench.chunk: no dumps (*.txt) in {args.dumps}: generate the 10-year ones with "
            "`python -m bench.generate --days 3650 --out bench/out/10y/dumps`, or pass --dumps DIR"
        )
    taxonomy = load_taxonomy()
    if args.cprofile:
        profile = cProfile.Profile()
        profile.runcall(transform_module.transform, chunk, [], Known(), taxonomy, "run", NOW)
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.cprofile)
        return
    timers = StageTimers()
    timers.install()
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        before = dict(timers.cpu)
        started = time.process_time()
        transform_module.transform(chunk, [], Known(), taxonomy, "run", NOW)
        spent = {stage: cpu - before[stage] for stage, cpu in timers.cpu.items()}
        spent["total"] = time.process_time() - started
        for stage, cpu in spent.items():
            if stage == "total" or timers.calls[stage]:
                best[stage] = min(best.get(stage, cpu), cpu)
    print(f"{len(chunk)} dumps from {args.dumps}, load {os.getloadavg()[0]:.1f}")
    for stage, cpu in best.items():
        print(f"{stage:40s} {cpu:7.3f} s CPU")


if __name__ == "__main__":
    main()
