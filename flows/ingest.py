"""The flows: the one place where the pipeline's stages are wired together.

    lock -> open (recover, what the warehouse knows) -> discover
         -> per chunk: archive (the next chunk's on a thread of its own) -> transform
            (submitted: CHUNKS_IN_FLIGHT chunks at once on the task runner; a run of one
            chunk archives and transforms it in the flow's thread)
         -> reconcile, in chunk order -> write -> summaries -> commit (one DuckLake
            transaction) -> maintain -> views -> dashboard -> report

``replay`` and ``retopic`` use the same tasks (``flows/tasks.py``); the run summary and its
reporting are ``flows/report.py``, the scheduled deployment ``flows/deploy.py``.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast
from uuid import uuid4

import polars as pl
from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from paperlake import process
from paperlake.archive import Archived
from paperlake.config import (
    BATCH_BYTES,
    BATCH_SIZE,
    CHUNKS_IN_FLIGHT,
    DASHBOARD_NAME,
    DEFAULT_RETENTION_DAYS,
    warehouse_root,
)
from paperlake.discover import Candidate, Discovery, chunks
from paperlake.flows.report import QuarantineError, RunSummary, report
from paperlake.flows.tasks import (
    archive_chunk,
    as_is,
    find_inputs,
    open_warehouse,
    publish_run,
    reload_quarantined,
    retag,
    transform_chunk,
    write,
    write_replay,
)
from paperlake.lake import CommitConflict, Transaction, Warehouse
from paperlake.publish import SUMMARIZED, Writer, summarized
from paperlake.schemas.tables import PUBLISHED
from paperlake.topics import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy
from paperlake.transform import Batch, Known, Reconciler

__all__ = ["QuarantineError", "RunSummary", "ingest", "replay", "retopic"]

COMMIT_ATTEMPTS = 5
"""Runs of one ingest, replay or retopic on shared storage before a lost commit is an error
(exit 75, as for a busy warehouse)."""


@flow(name="paperlake-ingest", log_prints=True)
def ingest(
    paths: list[str],
    warehouse: str | None = None,
    captured_on: date | None = None,
    strict: bool = False,
    wait_seconds: float = 0.0,
    batch_size: int = BATCH_SIZE,
    taxonomy: str | None = None,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    rehash: bool = False,
    settle_seconds: float = 0.0,
) -> RunSummary:
    """Ingest every new dump under ``paths`` into the warehouse and publish its views
    (``rehash``: read every input, not only those whose size or time changed;
    ``settle_seconds``: leave files of a folder modified since for a later run).

    On shared storage a run that loses the commit to another machine's run published
    nothing; it runs again (reading what the winner loaded), up to :data:`COMMIT_ATTEMPTS`."""
    summary = _until_committed(
        lambda: _ingest_once(
            paths,
            warehouse,
            captured_on,
            wait_seconds,
            batch_size,
            taxonomy,
            retention_days,
            (rehash, settle_seconds),
        )
    )
    if strict and (summary.files_quarantined or summary.entries_quarantined):
        return _failed(
            QuarantineError(
                f"--strict: {summary.files_quarantined} file(s) and "
                f"{summary.entries_quarantined} entry/row(s) quarantined "
                "(see `paperlake quarantine`)",
                tuple(summary.lines()),
            )
        )
    return summary


def _failed(error: Exception) -> RunSummary:
    """The flow run's end when it fails on purpose with ``error`` (after publishing): a
    ``Failed`` state returned by a flow is its run's final state, with ``error`` as its
    message, and calling the flow raises ``error``; raised instead, ``error`` would also be
    logged by Prefect with a traceback, as if the run had crashed."""
    return cast(RunSummary, Failed(message=str(error), data=error))


def _until_committed(once: Callable[[], RunSummary]) -> RunSummary:
    """``once()``, run again while it loses its commit (:class:`CommitConflict`: another
    machine's run committed first, or the catalog's connection dropped), up to
    :data:`COMMIT_ATTEMPTS` runs; each reads the lake as the last left it."""
    for attempt in range(1, COMMIT_ATTEMPTS):
        try:
            return once()
        except CommitConflict as lost:
            if process.stop_signal() is not None:
                raise  # told to stop: not run again
            get_run_logger().warning(
                "%s; running again (attempt %d of %d)", lost, attempt + 1, COMMIT_ATTEMPTS
            )
    return once()


def _ingest_once(
    paths: list[str],
    warehouse: str | None,
    captured_on: date | None,
    wait_seconds: float,
    batch_size: int,
    taxonomy: str | None,
    retention_days: float,
    reading: tuple[bool, float],
) -> RunSummary:
    store, summary, tagger = _start(warehouse, "ingest", taxonomy)
    with store.lock(wait_seconds), store.session():
        known, summary.recovered = open_warehouse(store)
        summary.tagged_with(tagger, taxonomy, known)
        run = store.begin(summary.run_id)
        found = find_inputs(paths, as_is(known), store, *reading)
        summary.found(found, known)
        new = _write_chunks(store, run, found, (known, tagger), summary, captured_on, batch_size)
        _publish(store, run, new, summary, retention_days)
    report(summary, store)
    return summary


@flow(name="paperlake-replay", log_prints=True)
def replay(
    warehouse: str | None = None,
    captured_on: date | None = None,
    wait_seconds: float = 0.0,
    taxonomy: str | None = None,
) -> RunSummary:
    """Process every quarantined file again and clear what now loads from quarantine.

    Use after a parser fix (the archived bytes are parsed again) or after dropping a
    corrected file under the same name (the new bytes are read).  Quarantine is rewritten
    copy-on-write: the replayed files' old rows go, the replay's own rejects come in.
    """
    return _until_committed(lambda: _replay_once(warehouse, captured_on, wait_seconds, taxonomy))


def _replay_once(
    warehouse: str | None, captured_on: date | None, wait_seconds: float, taxonomy: str | None
) -> RunSummary:
    store, summary, tagger = _start(warehouse, "replay", taxonomy)
    with store.lock(wait_seconds), store.session():
        known, summary.recovered = open_warehouse(store)
        summary.tagged_with(tagger, taxonomy, known)
        run = store.begin(summary.run_id)
        again = reload_quarantined(store, as_is(known), captured_on)
        summary.files_seen = len(again.raws) + len(again.unreadable)  # inputs, not paths
        batch = transform_chunk(
            as_is(again.raws),
            as_is(again.unreadable),
            as_is(known.forgetting(again)),
            as_is(tagger),
            summary.run_id,
            summary.now,
        )
        write_replay(as_is(run), store, as_is(again), as_is(batch))
        summary.add(batch)
        new = {name: [part] for name, part in summarized(batch).items()}
        _publish(store, run, new, summary, DEFAULT_RETENTION_DAYS)
    report(summary, store)
    return summary


@flow(name="paperlake-retopic", log_prints=True)
def retopic(
    warehouse: str | None = None, taxonomy: str | None = None, wait_seconds: float = 0.0
) -> RunSummary:
    """Tag every published paper again with the current taxonomy (after editing it).

    ``paper_topics`` is rewritten copy-on-write and ``papers.taxonomy_version`` records the
    taxonomy that tagged each paper."""
    return _until_committed(lambda: _retopic_once(warehouse, taxonomy, wait_seconds))


def _retopic_once(warehouse: str | None, taxonomy: str | None, wait_seconds: float) -> RunSummary:
    store, summary, tagger = _start(warehouse, "retopic", taxonomy)
    with store.lock(wait_seconds), store.session():
        open_warehouse(store)
        run = store.begin(summary.run_id)
        summary.rows.update(retag(store, as_is(run), as_is(tagger)))
        nothing_new: dict[str, list[pl.DataFrame]] = {}  # retag replaced its summary
        _, published = publish_run(store, as_is(run), as_is(nothing_new), DEFAULT_RETENTION_DAYS)
        summary.published(published)
        _draw_dashboard(store, summary)
    report(summary, store)
    return summary


def _start(
    warehouse: str | None, kind: str, taxonomy: str | None
) -> tuple[Warehouse, RunSummary, Taxonomy]:
    """The warehouse a run writes to, its empty summary (with a unique run id) and the
    taxonomy it tags with."""
    store = Warehouse(warehouse_root(warehouse))
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid4().hex[:8]}-{kind}"
    summary = RunSummary(run_id, store.location, rows={name: 0 for name in PUBLISHED})
    return store, summary, load_taxonomy(Path(taxonomy or DEFAULT_TAXONOMY))


def _write_chunks(
    store: Warehouse,
    run: Transaction,
    found: Discovery,
    context: tuple[Known, Taxonomy],
    summary: RunSummary,
    captured_on: date | None,
    batch_size: int,
) -> dict[str, list[pl.DataFrame]]:
    """Archive, transform and write every chunk of ``found`` (the next one archived while
    ``CHUNKS_IN_FLIGHT`` are transformed: :func:`_archived`); returns what the summaries
    need of the written batches.  A function of its own so that the last chunk's inputs
    and batch are freed before the summaries run.

    In a backfill, Python's cyclic garbage is collected after each chunk's write: a
    finished chunk's task run leaves its batch in reference cycles, and polars frames are
    too few Python objects to trigger the collector, so the batches piled up until the
    summaries (see :func:`_collecting`)."""
    known, tagger = context
    groups = chunks(found.candidates, batch_size, BATCH_BYTES)
    groups = groups or ([[]] if found.unreadable else [])  # unreadable ones get reported
    reconciler = Reconciler()
    writer = Writer(run)
    new: dict[str, list[pl.DataFrame]] = {name: [] for name in SUMMARIZED}
    pending: deque[PrefectFuture[Batch]] = deque()
    archiving = _archived if len(groups) > 1 else _archived_in_turn
    read: set[str] = set()
    with _collecting(), closing(archiving(store, groups, captured_on)) as archived:
        for number, (raws, unreadable, writing) in enumerate(archived):
            summary.unreadable_again(unreadable, known)  # failed to open, as before
            unreadable = [*found.unreadable, *unreadable] if number == 0 else unreadable
            read.update(raw.path for raw in raws)
            summary.in_progress_files += writing
            chunk = (as_is(raws), as_is(unreadable), as_is(known), as_is(tagger))
            if len(groups) == 1:  # a daily run: nothing to overlap, so no hop to another thread
                batch = transform_chunk(*chunk, summary.run_id, summary.now)
                _write(writer, reconciler.add(batch), summary, new, 1)
                break
            pending.append(transform_chunk.submit(*chunk, summary.run_id, summary.now))
            while pending and (len(pending) >= CHUNKS_IN_FLIGHT or number == len(groups) - 1):
                batch = reconciler.add(pending.popleft().result())
                _write(writer, batch, summary, new, len(groups))
                gc.collect()
        writer.flush()  # what the writer holds, before the summaries read the run's tables
    now_read = read & {path for path, _ in known.unreadable}
    if now_read:  # their "never read" rows go: read now, they loaded or hold their own row
        run.forget_unreadable(sorted(now_read))
    return new


def _archived(
    store: Warehouse, groups: list[list[Candidate]], captured_on: date | None
) -> Generator[Archived]:
    """Each chunk of ``groups`` archived, in order, the next one on a thread of its own
    while the caller transforms and writes: the flow's thread no longer archives between
    two writes (a transform waited for it).  One archive at a time, as in the flow's
    thread (``archive_chunk`` keeps a chunk's pending files on the warehouse); closed
    early (a failed write), it waits for the one running before the run ends."""
    runner: ThreadPoolTaskRunner[Archived] = ThreadPoolTaskRunner(max_workers=1)
    with runner as archiver:

        def submit(candidates: list[Candidate]) -> PrefectFuture[Archived]:
            arguments = {"warehouse": store, "candidates": as_is(candidates)}
            return archiver.submit(archive_chunk, {**arguments, "captured_on": captured_on})

        upcoming = submit(groups[0])
        for following in groups[1:]:
            done = upcoming.result()
            upcoming = submit(following)
            yield done
        yield upcoming.result()


def _archived_in_turn(
    store: Warehouse, groups: list[list[Candidate]], captured_on: date | None
) -> Generator[Archived]:
    """Each chunk of ``groups`` archived in the flow's thread, when the caller asks for it."""
    for candidates in groups:
        yield archive_chunk(store, as_is(candidates), captured_on)


@contextmanager
def _collecting() -> Iterator[None]:
    """Run the block with the objects that exist now frozen (``gc.freeze``): a collection
    in it scans only the objects made since, not the ~370,000 of the imports and Prefect's
    server (a full collection: 0.15 s of CPU, 3.3 s over a 10-year backfill's 21 chunks).
    Unfrozen after, so they are collected as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _write(
    writer: Writer,
    batch: Batch,
    summary: RunSummary,
    new: dict[str, list[pl.DataFrame]],
    chunks: int,
) -> None:
    """Write a reconciled batch, count it, keep what the summaries need of it."""
    write(as_is(writer), as_is(batch))
    summary.add(batch)
    for name, part in summarized(batch).items():
        new[name].append(part)
    if chunks > 1:
        get_run_logger().info(
            "batch %d/%d written, %d dumps loaded so far",
            len(new["papers"]),
            chunks,
            summary.dumps_loaded,
        )


def _publish(
    store: Warehouse,
    run: Transaction,
    new: dict[str, list[pl.DataFrame]],
    summary: RunSummary,
    retention_days: float,
) -> None:
    """Summaries (when the run added rows), the commit, then the dashboard."""
    counts, published = publish_run(store, as_is(run), as_is(new), retention_days)
    summary.published(published)
    for name, n in counts.items():
        summary.rows[name] += n
    if any(run.rows.values()) or _page_outdated(store):
        _draw_dashboard(store, summary)


def _page_outdated(store: Warehouse) -> bool:
    """Whether ``dashboard.html`` is missing or older than the views it is drawn from (its
    drawing failed after a publish, a full disk: runs with nothing new left it stale)."""
    try:
        drawn = (store.root / DASHBOARD_NAME).stat().st_mtime_ns
    except FileNotFoundError:
        return True
    try:
        return drawn < store.db_path.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def _draw_dashboard(store: Warehouse, summary: RunSummary) -> None:
    """Redraw ``dashboard.html`` after a publish; a failure is reported, never raised: the
    run has already published and must not fail or roll back for its page.  A shared
    lake's page is drawn on demand (``paperlake dashboard``): its runs keep no local files."""
    if store.shared is not None:
        return
    try:
        # Imported here: the page's modules (~25 ms) are loaded only by runs that publish.
        from paperlake.dashboard import write_dashboard

        write_dashboard(store.db_path, store.root / DASHBOARD_NAME)
    except Exception as exc:  # any failure to draw is reported, whatever its kind
        summary.dashboard_error = f"{type(exc).__name__}: {exc}"
