"""The Prefect tasks: each wraps one stage of ``paperlake`` and nothing else.

Tasks are coarse (one per chunk of up to ``BATCH_SIZE`` dumps and ``BATCH_BYTES`` of input,
never per dump or row) so a ten-year backfill is a few dozen task runs, a daily run six.
Data-carrying arguments are wrapped in :func:`as_is`: Prefect would otherwise walk every
element (every paper id of the warehouse) to look for futures, which made a daily run's
overhead grow with the warehouse.  Archiving retries (content-addressed, so a retry is
safe); the lake writes do not: they all belong to the run's one open transaction, and a
failure rolls all of them back.  Only :func:`transform_chunk` may run on a worker (its
arguments and result pickle); the others hold the run's connection and run in the flow's
thread.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import TypeVar, cast

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from paperlake import archive, process, publish
from paperlake.discover import Candidate, Discovery, Unreadable, discover
from paperlake.lake import CatalogError, Transaction, Warehouse
from paperlake.topics import Taxonomy
from paperlake.transform import Batch, Known, transform
from paperlake.views import ensure_database

T = TypeVar("T")


def not_stopping(*_: object) -> bool:
    """A failed task is retried unless the process was told to stop (its query was
    interrupted by SIGTERM or SIGINT, which DuckDB reports as its own error)."""
    return process.stop_signal() is None


retried = task(
    retries=2, retry_delay_seconds=1, retry_condition_fn=not_stopping, cache_policy=NO_CACHE
)
"""The tasks safe to run again after a failure (archiving is content-addressed; opening
and reading the warehouse write nothing a retry would double), unless told to stop."""


def as_is(value: T) -> T:
    """Pass ``value`` to a task without Prefect walking its contents (``quote``).

    Typed as the value itself, which Prefect's own annotations do not express."""
    return cast(T, quote(value))


@retried
def open_warehouse(warehouse: Warehouse) -> tuple[Known, list[str]]:
    """Finish what a killed run left (delete its uncommitted files, rebuild stale views) and
    read what the warehouse knows at run start."""
    recovered = warehouse.recover()
    ensure_database(warehouse)
    tables = [warehouse.scan(name) for name in KNOWN_FROM]
    try:
        known = Known.from_tables(*tables)
    except pl.exceptions.PolarsError as exc:
        raise _damaged(tables, exc) from None
    return known, recovered


KNOWN_FROM = ("dumps", "papers", "quarantine", "sources")
"""The lake tables :func:`open_warehouse` reads (``Known.from_tables``'s arguments)."""


def _damaged(tables: list[pl.LazyFrame], exc: Exception) -> CatalogError:
    """The error of a lake whose data files cannot be read (the catalog names them, and
    they are damaged): exit 4, naming the first table that fails, not a polars traceback
    after two retries."""
    failing = next(
        (name for name, table in zip(KNOWN_FROM, tables, strict=True) if not _readable(table)),
        "a",
    )
    return CatalogError(
        f"the lake's {failing} table cannot be read ({type(exc).__name__}: {exc}): a data "
        "file is damaged; restore the warehouse from a backup, or run `paperlake rebuild` "
        "(every table again from the raw archive)"
    )


def _readable(table: pl.LazyFrame) -> bool:
    try:
        table.collect()
    except pl.exceptions.PolarsError:
        return False
    return True


@task(cache_policy=NO_CACHE)
def find_inputs(
    paths: list[str],
    known: Known,
    warehouse: Warehouse,
    rehash: bool = False,
    settle_seconds: float = 0.0,
) -> Discovery:
    """The inputs to read: those changed since last read (by size and modification time),
    or with ``rehash`` every one (content-addressed: the known bytes load nothing twice);
    files of a folder modified in the last ``settle_seconds`` are left for a later run."""
    now, settle = time.time_ns(), int(settle_seconds * 1e9)
    unsettled = (now - settle, now + settle) if settle else None
    return discover(paths, {} if rehash else known.files, warehouse.root, unsettled)


@retried
def archive_chunk(
    warehouse: Warehouse, candidates: list[Candidate], captured_on: date | None
) -> archive.Archived:
    return archive.archive_inputs(warehouse, candidates, captured_on)


@retried
def reload_quarantined(
    warehouse: Warehouse, known: Known, captured_on: date | None
) -> archive.Replay:
    files = (
        warehouse.scan("quarantine")
        .filter(pl.col("scope") == "file")
        .unique(["source_file", "dump_id"], keep="last", maintain_order=True)
        .select("source_file", "dump_id", "archive_path", "quarantined_at")
        .collect()
    )
    reads = (
        warehouse.scan("sources")
        .sort("seen_at")
        .unique(["path", "dump_id"], keep="last")
        .select("path", "dump_id", "n_bytes", "mtime_ns", "captured_on", "captured_on_source")
        .collect()
    )
    return archive.quarantined_inputs(
        warehouse,
        [archive.Quarantined(*row) for row in files.iter_rows()],
        {(path, dump_id): archive.Read(*read) for path, dump_id, *read in reads.iter_rows()},
        known.files,
        captured_on,
    )


@task(cache_policy=NO_CACHE, persist_result=False)
def transform_chunk(
    raws: list[archive.RawDump],
    unreadable: list[Unreadable],
    known: Known,
    taxonomy: Taxonomy,
    run_id: str,
    now: datetime,
) -> Batch:
    """``persist_result=False``: else Prefect serializes a submitted task's frames (a 1-year
    backfill took 17 s instead of 10 s)."""
    return transform(raws, unreadable, known, taxonomy, run_id, now)


@task(cache_policy=NO_CACHE)
def write(writer: publish.Writer, batch: Batch) -> None:
    writer.write(batch)


@task(cache_policy=NO_CACHE)
def write_replay(
    run: Transaction, warehouse: Warehouse, again: archive.Replay, batch: Batch
) -> None:
    publish.write_replay(run, warehouse, again, batch)


@task(cache_policy=NO_CACHE)
def publish_run(
    warehouse: Warehouse,
    run: Transaction,
    new: dict[str, list[pl.DataFrame]],
    retention_days: float,
) -> tuple[dict[str, int], publish.Published]:
    """The summaries and the commit in one task: they always run together, and each task
    run costs the flow ~4 ms of CPU (a daily run's tasks went from seven to six)."""
    return publish.publish(warehouse, run, new, retention_days)


@task(cache_policy=NO_CACHE)
def retag(warehouse: Warehouse, run: Transaction, taxonomy: Taxonomy) -> dict[str, int]:
    """Tag every published paper again; ``papers`` and ``paper_topics`` replaced whole, then
    ``topic_daily`` recomputed from them whole."""
    retagged = publish.retag(warehouse.scan("papers").collect(), taxonomy)
    run.replace(retagged)
    daily = publish.retopic_summaries(run)
    run.replace(daily)
    return {name: frame.height for name, frame in {**retagged, **daily}.items()}
