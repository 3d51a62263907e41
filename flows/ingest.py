"""The daily ingest flow: the one place where the pipeline is wired together.

    lock -> recover -> discover -> per batch of dumps: archive -> build -> write
         -> summaries -> commit (one DuckLake transaction) -> maintain -> views

Tasks are coarse (one per batch of up to ``BATCH_SIZE`` dumps, never per dump or row) so a
ten-year backfill is a handful of task runs.  Data-carrying arguments are wrapped in
``quote()``: Prefect would otherwise walk every element (every paper id of the warehouse)
to look for futures, which made a daily run's overhead grow with the warehouse.  Archiving
retries (content-addressed, so a retry is safe); the lake writes do not: they all belong to
the run's one open transaction, and a failure rolls all of them back.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar, cast
from uuid import uuid4

import polars as pl
from prefect import flow, get_run_logger, task
from prefect import serve as prefect_serve
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import emit_event
from prefect.schedules import Cron
from prefect.utilities.annotations import quote

from paperlake.build import Batch, Known, RawDump, build_batch
from paperlake.config import (
    BATCH_BYTES,
    BATCH_SIZE,
    DASHBOARD_NAME,
    DEFAULT_CRON,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_TIMEZONE,
    warehouse_root,
)
from paperlake.lake import CommitConflict, Transaction, Warehouse
from paperlake.schemas.tables import PUBLISHED
from paperlake.schemas.validate import validate_derived
from paperlake.sources import (
    Candidate,
    Discovery,
    Replay,
    Unreadable,
    batches,
    discover,
    quarantined_inputs,
    read_into_archive,
)
from paperlake.summaries import summarize
from paperlake.topics import DEFAULT_TAXONOMY, load_taxonomy
from paperlake.views import ensure_database

T = TypeVar("T")


def as_is(value: T) -> T:
    """Pass ``value`` to a task without Prefect walking its contents (``quote``).

    Typed as the value itself, which Prefect's own annotations do not express."""
    return cast(T, quote(value))


class QuarantineError(RuntimeError):
    """Raised at the end of a ``--strict`` run that quarantined anything."""


@dataclass(slots=True)
class RunSummary:
    run_id: str
    warehouse: str
    files_seen: int = 0
    dumps_loaded: int = 0
    skipped_unchanged: int = 0
    skipped_duplicate: int = 0
    skipped_in_progress: int = 0
    files_quarantined: int = 0
    entries_quarantined: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    """Rows published per table by this run."""
    quarantined_files: list[str] = field(default_factory=list)
    snapshot: int = 0
    """The lake snapshot the run leaves current."""
    recovered: list[str] = field(default_factory=list)
    dashboard_error: str | None = None
    """Why ``dashboard.html`` was not redrawn (the run itself succeeded)."""
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    @property
    def nothing_new(self) -> bool:
        return not any(self.rows.values())

    def lines(self) -> list[str]:
        """The human summary the CLI prints and the flow logs."""
        head = (
            "nothing new: every input was already in the warehouse"
            if self.nothing_new
            else f"loaded {self.dumps_loaded} dump(s)"
        )
        lines = [
            f"{head} ({self.seconds:.1f}s, warehouse {self.warehouse}, snapshot {self.snapshot})",
            f"  files: {self.files_seen} seen, {self.dumps_loaded} loaded, "
            f"{self.skipped_unchanged} unchanged, {self.skipped_duplicate} duplicate bytes, "
            f"{self.skipped_in_progress} in progress, {self.files_quarantined} quarantined",
            "  rows: " + ", ".join(f"{name} +{n}" for name, n in self.rows.items()),
        ]
        if self.entries_quarantined or self.files_quarantined:
            lines.append(
                f"  QUARANTINED: {self.files_quarantined} file(s), "
                f"{self.entries_quarantined} entry/row(s); see `paperlake quarantine`"
            )
            lines += [f"    {path}" for path in self.quarantined_files[:20]]
        if self.recovered:
            lines.append(f"  recovered: removed {len(self.recovered)} leftover file(s)")
        if self.dashboard_error:
            lines.append(f"  DASHBOARD not redrawn: {self.dashboard_error}")
        return lines

    def markdown(self) -> str:
        """The summary as the run's markdown artifact: the same lines, and rows per table."""
        [head, *details] = self.lines()
        rows = [f"| `{name}` | {n:,} |" for name, n in self.rows.items() if n]
        table = ["| table | rows added |", "|---|---|", *rows] if rows else []
        return "\n".join(
            [f"# paperlake run `{self.run_id}`", "", f"**{head}**", "", "```"]
            + [line.strip() for line in details]
            + ["```", "", *table]
        )


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def open_warehouse(warehouse: Warehouse) -> tuple[Known, list[str]]:
    """Finish what a killed run left (delete its uncommitted files, rebuild stale views)."""
    recovered = warehouse.recover()
    ensure_database(warehouse)
    known = Known.from_tables(
        *(warehouse.scan(name) for name in ("dumps", "papers", "quarantine", "sources"))
    )
    return known, recovered


@task(cache_policy=NO_CACHE)
def find_inputs(paths: list[str], known: Known, warehouse: Warehouse) -> Discovery:
    return discover(paths, known.files, exclude=warehouse.root)


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def archive_inputs(
    warehouse: Warehouse, candidates: list[Candidate], captured_on: date | None
) -> tuple[list[RawDump], list[Unreadable]]:
    raws: list[RawDump] = []
    unreadable: list[Unreadable] = []
    with warehouse.archiving():
        for candidate in candidates:
            try:
                raws.append(read_into_archive(warehouse, candidate, captured_on))
            except OSError as exc:  # any read error: that file is quarantined, the rest loads
                unreadable.append(Unreadable(candidate.path, f"cannot read: {exc.strerror or exc}"))
    return raws, unreadable


@task(cache_policy=NO_CACHE)
def transform(
    raws: list[RawDump], unreadable: list[Unreadable], known: Known, run_id: str, taxonomy: Path
) -> Batch:
    return build_batch(
        raws,
        known,
        load_taxonomy(taxonomy),
        run_id,
        datetime.now(UTC),
        [(u.path, u.detail) for u in unreadable],
    )


@task(cache_policy=NO_CACHE)
def write(run: Transaction, batch: Batch) -> None:
    """Write the batch into the run's transaction; invisible until :func:`commit`."""
    run.append(batch.tables)


@task(cache_policy=NO_CACHE)
def write_summaries(run: Transaction, new: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Compute the summary tables for what the run wrote and write them too."""
    frames = {
        name: validate_derived(PUBLISHED[name], frame, f"summary {name}")
        for name, frame in summarize(run, new).items()
    }
    run.append(frames)
    return {name: frame.height for name, frame in frames.items()}


@task(cache_policy=NO_CACHE)
def commit(warehouse: Warehouse, run: Transaction, retention_days: float) -> int:
    """Commit the run (its single commit point), then compact, expire and rebuild the views.

    A run that wrote nothing commits nothing; maintenance still runs (retention is by age).
    Returns the snapshot the views now show."""
    if any(run.rows.values()):
        run.commit()
    else:
        run.rollback()
    warehouse.maintain(retention_days)
    snapshot = warehouse.current()
    ensure_database(warehouse, snapshot)
    return snapshot.version


def _finish(
    store: Warehouse,
    run: Transaction,
    new: dict[str, list[pl.DataFrame]],
    summary: RunSummary,
    retention_days: float,
) -> None:
    """Summaries (when the run added rows), then the commit."""
    if any(run.rows.values()):
        frames = {name: pl.concat(parts) for name, parts in new.items() if parts}
        for name, n in write_summaries(as_is(run), as_is(frames)).items():
            summary.rows[name] += n
    summary.snapshot = commit(store, as_is(run), retention_days)
    if store.shared is None and (
        any(run.rows.values()) or not (store.root / DASHBOARD_NAME).exists()
    ):
        _draw_dashboard(store, summary)


def _draw_dashboard(store: Warehouse, summary: RunSummary) -> None:
    """Redraw ``dashboard.html`` after a publish; a failure is reported, never raised: the
    run has already published and must not fail or roll back for its page."""
    try:
        # Imported here: Altair's import (~1 s) is paid only by runs that publish.
        from paperlake.dashboard import write_dashboard

        write_dashboard(store.db_path, store.root / DASHBOARD_NAME)
    except Exception as exc:  # any failure to draw is reported, whatever its kind
        summary.dashboard_error = f"{type(exc).__name__}: {exc}"


def _chunks(found: Discovery, size: int) -> list[list[Candidate]]:
    """Batches of candidates; one empty batch if only unreadable inputs need reporting,
    none at all when nothing is new (a no-op daily run then runs no batch tasks)."""
    groups = batches(found.candidates, size, BATCH_BYTES)
    return groups or ([[]] if found.unreadable else [])


COMMIT_ATTEMPTS = 5
"""Runs of one ingest on shared storage before a lost commit race is an error."""


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
) -> RunSummary:
    """Ingest every new dump under ``paths`` into the warehouse and publish its views.

    On shared storage a run that loses the commit to another machine's run published
    nothing; it runs again (reading what the winner loaded), up to :data:`COMMIT_ATTEMPTS`."""
    logger = get_run_logger()
    attempt = 1
    while True:
        try:
            return _ingest_once(
                paths, warehouse, captured_on, strict, wait_seconds, batch_size, taxonomy,
                retention_days,
            )  # fmt: skip
        except CommitConflict as lost:
            if attempt == COMMIT_ATTEMPTS:
                raise
            attempt += 1
            logger.warning("%s; running again (attempt %d of %d)", lost, attempt, COMMIT_ATTEMPTS)


def _ingest_once(
    paths: list[str],
    warehouse: str | None,
    captured_on: date | None,
    strict: bool,
    wait_seconds: float,
    batch_size: int,
    taxonomy: str | None,
    retention_days: float,
) -> RunSummary:
    logger = get_run_logger()
    store, summary = _start(warehouse, "ingest")
    with store.lock(wait_seconds), store.session():
        known, summary.recovered = open_warehouse(store)
        run = store.begin(summary.run_id)
        new: dict[str, list[pl.DataFrame]] = {"listings": [], "papers": []}
        found = find_inputs(paths, as_is(known), store)
        summary.files_seen = len(found.candidates) + found.skipped_unchanged
        summary.skipped_unchanged = found.skipped_unchanged
        summary.skipped_in_progress = len(found.skipped_in_progress)
        batches = _chunks(found, batch_size)
        done = 0
        for number, candidates in enumerate(batches, start=1):
            raws, unreadable = archive_inputs(store, as_is(candidates), captured_on)
            if number == 1:
                unreadable = [*found.unreadable, *unreadable]
            batch = transform(
                as_is(raws),
                as_is(unreadable),
                as_is(known),
                summary.run_id,
                Path(taxonomy or DEFAULT_TAXONOMY),
            )
            write(as_is(run), as_is(batch))
            for name, parts in new.items():
                parts.append(batch.tables[name])
            done += len(candidates)
            _add(summary, batch)
            if len(batches) > 1:
                logger.info(
                    "batch %d/%d: %d/%d files, %d dumps loaded so far",
                    number,
                    len(batches),
                    done,
                    len(found.candidates),
                    summary.dumps_loaded,
                )
        _finish(store, run, new, summary, retention_days)
    _report(summary, store)
    if strict and (summary.files_quarantined or summary.entries_quarantined):
        raise QuarantineError(
            f"--strict: {summary.files_quarantined} file(s) and "
            f"{summary.entries_quarantined} entry/row(s) quarantined (see `paperlake quarantine`)"
        )
    return summary


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def reload_quarantined(warehouse: Warehouse, known: Known, captured_on: date | None) -> Replay:
    files = (
        warehouse.scan("quarantine")
        .filter(pl.col("scope") == "file")
        .unique("source_file", keep="last", maintain_order=True)
        .select("source_file", "dump_id", "archive_path")
        .collect()
    )
    return quarantined_inputs(warehouse, list(files.iter_rows()), known.files, captured_on)


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
    store, summary = _start(warehouse, "replay")
    with store.lock(wait_seconds), store.session():
        known, summary.recovered = open_warehouse(store)
        run = store.begin(summary.run_id)
        again = reload_quarantined(store, as_is(known), captured_on)
        summary.files_seen = len(again.paths)
        known.dumps -= again.dump_ids
        known.unreadable = {u for u in known.unreadable if u[0] not in again.paths}
        batch = transform(
            as_is(again.raws),
            as_is(again.unreadable),
            as_is(known),
            summary.run_id,
            Path(taxonomy or DEFAULT_TAXONOMY),
        )
        _add(summary, batch)
        kept = store.scan("quarantine").filter(
            ~pl.col("source_file").is_in(list(again.paths))
            & ~pl.col("dump_id").is_in(list(again.dump_ids)).fill_null(False)
        )
        if again.paths:  # else nothing to rewrite
            run.replace({"quarantine": pl.concat([kept.collect(), batch.quarantine])})
            run.append({name: f for name, f in batch.tables.items() if name != "quarantine"})
        new = {name: [batch.tables[name]] for name in ("listings", "papers")}
        _finish(store, run, new, summary, DEFAULT_RETENTION_DAYS)
    _report(summary, store)
    return summary


@flow(name="paperlake-retopic", log_prints=True)
def retopic(
    warehouse: str | None = None, taxonomy: str | None = None, wait_seconds: float = 0.0
) -> RunSummary:
    """Tag every published paper again with the current taxonomy (after editing it).

    ``paper_topics`` is rewritten copy-on-write and ``papers.taxonomy_version`` records the
    taxonomy that tagged each paper."""
    store, summary = _start(warehouse, "retopic")
    with store.lock(wait_seconds), store.session():
        open_warehouse(store)
        run = store.begin(summary.run_id)
        tagger = load_taxonomy(Path(taxonomy or DEFAULT_TAXONOMY))
        papers = store.scan("papers").collect()
        retagged = {
            "papers": papers.with_columns(pl.lit(tagger.version).alias("taxonomy_version")),
            "paper_topics": tagger.tag_papers(papers),
        }
        for name, frame in retagged.items():
            retagged[name] = validate_derived(PUBLISHED[name], frame, f"retopic {name}")
            summary.rows[name] = retagged[name].height
        run.replace(retagged)
        summary.snapshot = commit(store, as_is(run), DEFAULT_RETENTION_DAYS)
        _draw_dashboard(store, summary)
    _report(summary, store)
    return summary


def _start(warehouse: str | None, kind: str) -> tuple[Warehouse, RunSummary]:
    """The warehouse a run writes to and its empty summary, with a unique run id."""
    store = Warehouse(warehouse_root(warehouse))
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid4().hex[:8]}-{kind}"
    summary = RunSummary(run_id, store.location, rows={name: 0 for name in PUBLISHED})
    return store, summary


def _add(summary: RunSummary, batch: Batch) -> None:
    for name, frame in batch.tables.items():
        summary.rows[name] += frame.height
    summary.dumps_loaded += len(batch.loaded_dump_ids)
    summary.skipped_duplicate += batch.duplicates
    summary.quarantined_files += batch.quarantined_files
    summary.files_quarantined += len(batch.quarantined_files)
    summary.entries_quarantined += batch.quarantine.filter(
        batch.quarantine["scope"] != "file"
    ).height


def _report(summary: RunSummary, store: Warehouse) -> None:
    """Log the summary, publish it as a table and a markdown artifact, and raise an event
    on quarantine."""
    summary.seconds = time.perf_counter() - summary.started
    logger = get_run_logger()
    for line in summary.lines():
        alarming = "QUARANTINED" in line or "DASHBOARD" in line
        (logger.warning if alarming else logger.info)(line)
    table = [{"table": name, "rows_added": n} for name, n in summary.rows.items()] + [
        {"table": f"({key})", "rows_added": value}
        for key, value in asdict(summary).items()
        if isinstance(value, int) and not isinstance(value, bool)
    ]
    create_table_artifact(
        key="paperlake-run-summary",
        table=table,
        description="\n".join(summary.lines()),
    )
    create_markdown_artifact(key="paperlake-run-report", markdown=summary.markdown())
    if summary.files_quarantined or summary.entries_quarantined:
        emit_event(
            event="paperlake.quarantine",
            resource={"prefect.resource.id": f"paperlake.warehouse.{store.root}"},
            payload={
                "run_id": summary.run_id,
                "files_quarantined": summary.files_quarantined,
                "entries_quarantined": summary.entries_quarantined,
                "files": summary.quarantined_files[:100],
            },
        )


DAILY_RETRIES = 2
DAILY_RETRY_DELAY_SECONDS = 300
"""A scheduled run that fails (the warehouse busy, a transient I/O error) is retried twice,
five minutes apart; a run is idempotent, so a retry only loads what is still new."""


@flow(
    name="paperlake-daily-ingest",
    retries=DAILY_RETRIES,
    retry_delay_seconds=DAILY_RETRY_DELAY_SECONDS,
    log_prints=True,
)
def daily(paths: list[str], warehouse: str | None = None) -> RunSummary:
    """The scheduled ingest of the landing folder: :func:`ingest` with flow retries."""
    return ingest.fn(paths=paths, warehouse=warehouse)


def daily_deployment(
    landing: str,
    warehouse: str | None = None,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
) -> RunnerDeployment:
    """The ``paperlake-daily`` deployment: ingest whatever is new in ``landing`` on ``cron``
    (in ``timezone``), one run at a time: a run due while one is still going is cancelled."""
    deployment = daily.to_deployment(
        name="paperlake-daily",
        schedules=[Cron(cron, timezone=timezone)],
        parameters={
            "paths": [str(Path(landing).resolve())],
            "warehouse": str(warehouse_root(warehouse)),
        },
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        description="Ingest new trending-paper dumps from the landing folder.",
    )
    assert isinstance(deployment, RunnerDeployment)  # called outside an event loop: not async
    return deployment


def serve(
    landing: str,
    warehouse: str | None = None,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
) -> None:
    """Register the daily deployment with the Prefect server and run it on schedule."""
    prefect_serve(daily_deployment(landing, warehouse, cron, timezone))
