"""A run's summary: counted while it runs, printed, logged, published as Prefect artifacts,
and raised as an event when anything was quarantined."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from paperlake.discover import Discovery, printable
from paperlake.lake import Warehouse
from paperlake.transform import Batch


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
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the run started: its rows' ``ingested_at``/``quarantined_at``/``seen_at``."""
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
            # written, not added: a replaced table (retopic) or page date counts its new rows
            "  rows written: " + ", ".join(f"{name} {n}" for name, n in self.rows.items()),
        ]
        if self.entries_quarantined or self.files_quarantined:
            lines.append(
                f"  QUARANTINED: {self.files_quarantined} file(s), "
                f"{self.entries_quarantined} entry/row(s); see `paperlake quarantine`"
            )
            lines += [f"    {printable(path)}" for path in self.quarantined_files[:20]]
        if self.recovered:
            lines.append(f"  recovered: removed {len(self.recovered)} leftover file(s)")
        if self.dashboard_error:
            lines.append(f"  DASHBOARD not redrawn: {self.dashboard_error}")
        return lines

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

    def found(self, found: Discovery) -> None:
        """Count what discovery found."""
        # every input looked at: those it could not read too (they are quarantined)
        self.files_seen = len(found.candidates) + found.skipped_unchanged + len(found.unreadable)
        self.skipped_unchanged = found.skipped_unchanged
        self.skipped_in_progress = len(found.skipped_in_progress)

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


def report(summary: RunSummary, store: Warehouse) -> None:
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
