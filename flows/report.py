"""A run's summary: counted while it runs, printed, logged, published as Prefect artifacts,
and raised as an event when anything was quarantined."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from paperlake.discover import Discovery, Unreadable, printable
from paperlake.lake import Warehouse
from paperlake.publish import Published
from paperlake.topics import Taxonomy
from paperlake.transform import Batch, Known


class QuarantineError(RuntimeError):
    """Raised at the end of a ``--strict`` run that quarantined anything; ``lines`` are its
    summary's (:meth:`RunSummary.lines`), which the command line prints before the error,
    as a run that succeeds prints them.  Strings, in the exception's arguments: it survives
    a copy (pickling) as it is."""

    def __init__(self, message: str, lines: tuple[str, ...] = ()) -> None:
        super().__init__(message, lines)
        self.lines = lines

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(slots=True)
class RunSummary:
    run_id: str
    warehouse: str
    files_seen: int = 0
    dumps_loaded: int = 0
    skipped_unchanged: int = 0
    skipped_duplicate: int = 0
    in_progress_files: list[str] = field(default_factory=list)
    """Inputs left for a later run: hidden or partial names, or still being written."""
    still_unreadable: int = 0
    """Inputs that could not be read, as they could not before: quarantined then, not again."""
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
    unfinished: str | None = None
    """Why the maintenance or the views' rebuild after the run's commit failed."""
    other_taxonomy: str | None = None
    """Why the run's new papers were tagged with another taxonomy than the published ones
    (:meth:`tagged_with`)."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the run started: its rows' ``ingested_at``/``quarantined_at``/``seen_at``."""
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    @property
    def nothing_new(self) -> bool:
        return not any(self.rows.values())

    @property
    def skipped_in_progress(self) -> int:
        return len(self.in_progress_files)

    def lines(self) -> list[str]:
        """The human summary the CLI prints and the flow logs."""
        if not self.nothing_new:
            head = f"loaded {self.dumps_loaded} dump(s)"
        elif not self.files_seen:
            head = "nothing new: no input found"
        elif self.files_seen == self.skipped_in_progress:
            head = "nothing new: only inputs left for a later run (hidden or partial names)"
        else:
            head = "nothing new: every input was already in the warehouse"
        lines = [
            f"{head} ({self.seconds:.1f}s, warehouse {self.warehouse}, snapshot {self.snapshot})",
            f"  files: {self.files_seen} seen, {self.dumps_loaded} loaded, "
            f"{self.skipped_unchanged} unchanged, {self.skipped_duplicate} duplicate bytes, "
            f"{self.skipped_in_progress} in progress, {self.files_quarantined} quarantined"
            + (f", {self.still_unreadable} still unreadable" if self.still_unreadable else ""),
            # written, not added: a replaced table (retopic) or page date counts its new rows
            "  rows written: " + ", ".join(f"{name} {n}" for name, n in self.rows.items()),
        ]
        if self.entries_quarantined or self.files_quarantined:
            lines.append(
                f"  QUARANTINED: {self.files_quarantined} file(s), "
                f"{self.entries_quarantined} entry/row(s); see `paperlake quarantine`"
            )
            lines += [f"    {printable(path)}" for path in self.quarantined_files[:20]]
        if self.in_progress_files:  # named: a hidden file is never loaded, never lost
            lines.append(
                "  left for a later run (a hidden or partial name, or still being written): "
                + ", ".join(printable(path) for path in self.in_progress_files[:5])
                + (" ..." if len(self.in_progress_files) > 5 else "")
            )
        if self.recovered:
            lines.append(f"  recovered: removed {len(self.recovered)} leftover file(s)")
        if self.unfinished:
            lines.append(
                f"  PUBLISHED as snapshot {self.snapshot}, but the maintenance or the views "
                f"after its commit failed ({self.unfinished}): the next run, or reader, "
                "finishes them"
            )
        if self.dashboard_error:
            lines.append(f"  DASHBOARD not redrawn: {self.dashboard_error}")
        if self.other_taxonomy and self.rows.get("papers"):
            lines.append(f"  TAXONOMY: {self.other_taxonomy}")
        return lines

    def published(self, published: Published) -> None:
        self.snapshot, self.unfinished = published.snapshot, published.unfinished

    def tagged_with(self, taxonomy: Taxonomy, file: str | None, known: Known) -> None:
        """Note whether the run tags new papers with another taxonomy (read from ``file``,
        the bundled one if None) than the one every published paper carries (a ``retopic
        --taxonomy FILE`` undone for the new papers by runs without it: topic counts mixing
        two taxonomies, silently)."""
        if known.taxonomies and known.taxonomies != {taxonomy.version}:
            carried = ", ".join(sorted(known.taxonomies))
            source = file or "the bundled taxonomy"
            self.other_taxonomy = (
                f"new papers tagged with {source} (version {taxonomy.version}), the published "
                f"ones with version {carried}: pass the same --taxonomy to every run, or "
                "`paperlake retopic --taxonomy FILE` to tag every paper with one"
            )

    def markdown(self) -> str:
        """The summary as the run's markdown artifact: the same lines, and rows per table."""
        [head, *details] = self.lines()
        rows = [f"| `{name}` | {n:,} |" for name, n in self.rows.items() if n]
        table = ["| table | rows written |", "|---|---|", *rows] if rows else []
        return "\n".join(
            [f"# paperlake run `{self.run_id}`", "", f"**{head}**", "", "```"]
            + [line.strip() for line in details]
            + ["```", "", *table]
        )

    def found(self, found: Discovery, known: Known) -> None:
        """Count what discovery found."""
        # every input looked at: those it could not read too (they are quarantined, once),
        # and those still being written (left for a later run): the line's other counts
        # add up to it
        self.files_seen = (
            len(found.candidates)
            + found.skipped_unchanged
            + len(found.unreadable)
            + len(found.skipped_in_progress)
        )
        self.skipped_unchanged = found.skipped_unchanged
        self.in_progress_files = list(found.skipped_in_progress)
        self.unreadable_again(found.unreadable, known)

    def unreadable_again(self, unreadable: list[Unreadable], known: Known) -> None:
        """Count the inputs that failed as they had failed before (quarantined then, not
        again): at discovery (a dangling link) or when opened (permission denied)."""
        self.still_unreadable += sum(
            (unread.path, unread.detail) in known.unreadable for unread in unreadable
        )

    def add(self, batch: Batch) -> None:
        """Count a reconciled batch the run wrote."""
        for name, frame in batch.tables.items():
            self.rows[name] += frame.height
        self.dumps_loaded += len(batch.loaded_dump_ids)
        self.skipped_duplicate += batch.duplicates
        files = batch.quarantined_files
        self.quarantined_files += files
        self.files_quarantined += len(files)
        self.entries_quarantined += int((batch.quarantine["scope"] != "file").sum())


ALARMS = ("QUARANTINED", "PUBLISHED as snapshot", "DASHBOARD", "TAXONOMY")
"""The summary lines logged as warnings (Prefect's UI shows them apart)."""


def report(summary: RunSummary, store: Warehouse) -> None:
    """Log the summary, publish it as a table and a markdown artifact, and raise an event
    on quarantine."""
    summary.seconds = time.perf_counter() - summary.started
    logger = get_run_logger()
    for line in summary.lines():
        alarming = line.lstrip().startswith(ALARMS)
        (logger.warning if alarming else logger.info)(line)
    table = [{"table": name, "rows_added": n} for name, n in summary.rows.items()] + [
        {"table": f"({key})", "rows_added": value}
        for key, value in (
            asdict(summary) | {"skipped_in_progress": summary.skipped_in_progress}
        ).items()
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
