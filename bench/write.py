"""The write stage alone: a backfill's batches appended to fresh lakes, per Parquet setting.

    python -m bench.write capture DUMPS FRAMES     (one backfill; every batch it writes is
                                                    saved to FRAMES as Arrow IPC, in order)
    python -m bench.write replay [--repeat 3] FRAMES [SETTING...]

``replay`` appends the captured batches (:meth:`Transaction.append` / ``replace``, as the
run called them, one transaction, one commit) to a new lake per setting, the settings in
turn ``repeat`` times (side by side: the same load for each), and prints per setting the
CPU seconds of the appends (the profile's "write" stage), of the commit and of a
compaction (:meth:`Maintenance.maintain`), and the bytes of the data files.  A SETTING is
``name=option:value,table.option:value`` of DuckLake ``set_option``s (lake-wide, or for one
table) on top of DuckLake's defaults, or a name of :data:`SETTINGS`; with none given, all of
:data:`SETTINGS` are measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the tree the command runs from, not this file's

import polars as pl

from paperlake.lake import LAKE, Transaction, Warehouse, catalog
from paperlake.lake.catalog import PARQUET_OPTIONS

Write = Callable[[Transaction, dict[str, pl.DataFrame]], None]

SETTINGS = {
    "ducklake-defaults": {},
    "paperlake": {
        f"{table}.{option}": value
        for table, options in PARQUET_OPTIONS.items()
        for option, value in options.items()
    },
    "uncompressed": {"parquet_compression": "uncompressed"},
    "lz4_raw": {"parquet_compression": "lz4_raw"},
    "zstd1": {"parquet_compression": "zstd", "parquet_compression_level": "1"},
    "zstd3": {"parquet_compression": "zstd", "parquet_compression_level": "3"},
    "parquet-v2": {"parquet_version": "2"},
    "rows-32k": {"parquet_row_group_size": "32768"},
    "rows-1m": {"parquet_row_group_size": "1048576"},
}
"""Each a lake's DuckLake ``set_option``s (``table.option`` for one table's) on top of
DuckLake's defaults: ``paperlake`` is :data:`~paperlake.lake.catalog.PARQUET_OPTIONS`."""


Batch = tuple[str, str, pl.DataFrame]
"""One captured call: ``append`` or ``replace``, the table, its frame."""


def capture(dumps: str, frames: str) -> None:
    """One backfill (Prefect's temporary server) with every append/replace saved."""
    from paperlake.flows.ingest import ingest

    out = Path(frames)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    saved = 0

    def saving(kind: str, method: Write) -> Write:
        def wrapper(run: Transaction, batch: dict[str, pl.DataFrame]) -> None:
            nonlocal saved
            for name, frame in batch.items():
                frame.write_ipc(out / f"{saved:05d}.{kind}.{name}.arrow")
                saved += 1
            method(run, batch)

        return wrapper

    for kind in ("append", "replace"):
        setattr(Transaction, kind, saving(kind, getattr(Transaction, kind)))
    with tempfile.TemporaryDirectory() as warehouse:
        ingest(paths=[dumps], warehouse=warehouse)
    print(f"{saved} frames in {out}")


def load(frames: Path) -> list[Batch]:
    return [
        (path.name.split(".")[1], path.name.split(".")[2], pl.read_ipc(path))
        for path in sorted(frames.glob("*.arrow"))
    ]


def replay_once(batches: list[Batch], options: dict[str, str], root: Path) -> dict[str, float]:
    """A new lake at ``root`` with ``options`` only; the batches appended, committed and
    compacted as a run does."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    store = Warehouse(root)
    catalog.PARQUET_OPTIONS = {}
    with store.session() as con:
        for key, value in options.items():
            table, _, option = key.rpartition(".")
            if table:
                con.execute(
                    f"CALL {LAKE}.set_option(?, ?, table_name => ?)", [option, value, table]
                )
            else:
                con.execute(f"CALL {LAKE}.set_option(?, ?)", [option, value])
        run = store.begin("bench")
        cpu, wall = time.process_time(), time.perf_counter()
        for kind, name, frame in batches:
            (run.append if kind == "append" else run.replace)({name: frame})
        write_cpu, write_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu = time.process_time()
        run.commit()
        commit_cpu = time.process_time() - cpu
        written = _data_mb(store)
        cpu = time.process_time()
        store.maintain()
        maintain_cpu = time.process_time() - cpu
    return {
        "write CPU s": write_cpu,
        "write wall s": write_wall,
        "commit CPU s": commit_cpu,
        "compaction CPU s": maintain_cpu,
        "written MB": written,
        "MB after compaction": _data_mb(store),
    }


def _data_mb(store: Warehouse) -> float:
    """The megabytes of the lake's data files."""
    return sum(path.stat().st_size for path in store.data_path.rglob("*.parquet")) / 1e6


def parse_setting(text: str) -> tuple[str, dict[str, str]]:
    if text in SETTINGS:
        return text, SETTINGS[text]
    name, _, rest = text.partition("=")
    pairs = (item.split(":", 1) for item in rest.split(",") if item)
    return name, {option: value for option, value in pairs}


def replay(frames: str, settings: list[str], repeat: int, keep: str | None) -> None:
    chosen = dict(parse_setting(text) for text in settings) if settings else SETTINGS
    batches = load(Path(frames))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeat):
            for name, options in chosen.items():
                root = Path(keep) / name if keep else Path(scratch) / name
                results[name].append(replay_once(batches, options, root))
    print(f"load average {os.getloadavg()[0]:.1f} (medians of {repeat}, settings in turn)")
    keys = list(next(iter(results.values()))[0])
    print("| setting | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, runs in results.items():
        cells = [f"{statistics.median(run[key] for run in runs):.2f}" for key in keys]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("dumps")
    cap.add_argument("frames")
    rep = sub.add_parser("replay")
    rep.add_argument("frames")
    rep.add_argument("settings", nargs="*")
    rep.add_argument("--repeat", type=int, default=3)
    rep.add_argument("--keep", help="keep each setting's lake in KEEP/<setting>")
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.dumps, args.frames)
    else:
        replay(args.frames, args.settings, args.repeat, args.keep)


if __name__ == "__main__":
    main()
