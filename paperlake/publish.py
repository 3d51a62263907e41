"""Publish stage: a run's batches and summaries go into its one DuckLake transaction, which
commits once; then maintenance and the views (``paperlake.views``) follow.

Runs in the flow's own thread: the transaction's connection never leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from paperlake import frames
from paperlake.archive import Replay
from paperlake.lake import Transaction, Warehouse
from paperlake.schemas.tables import PUBLISHED
from paperlake.schemas.validate import validate_derived
from paperlake.summaries import summarize, topic_daily
from paperlake.topics import Taxonomy
from paperlake.transform import Batch
from paperlake.views import ensure_database

SUMMARIZED = {"listings": ("listed_on",), "papers": ("paper_id", "title_key", "title")}
"""The tables whose new rows the summary tables are computed from, and the columns
``summaries.summarize`` reads: all a run keeps of its batches until its summaries.  The
titles too, so that ``title_words`` need not read them back from the lake (a daily run:
0.02 s of CPU less); a 30-year backfill peaks higher for them, 928 MB against 851
(``bench.worker backfill``, back to back)."""


HOLD_BYTES = 6 * 1024 * 1024
"""A table's rows a run holds (polars' estimate of their size in memory) before it appends
them to its transaction.  One file per chunk left a backfill's smaller tables (listings,
entities, topics, keyphrases, dumps, sources, links) in files under
:data:`~paperlake.lake.maintenance.SMALL_FILE_BYTES`, each chunk's INSERT paying DuckLake's
fixed cost, and maintenance merged them all again after the commit, alone on the run's last
seconds (10 years: 0.55 s, 30 years: 1.65 s).  Held to 6 MiB, their files come out near
1 MB of Parquet or more (their rows are 1.7-8x smaller as Parquet): a 10-year backfill leaves
nothing to merge (0.013 s), a 30-year one only its listings, topics and a few ``papers``
files (``papers`` and ``paper_terms`` pass the limit in most chunks).  The cost is memory,
more than the rows held (probably what they fragment, kept by the allocator): a 30-year
backfill's peak was 916-932 MB holding nothing, 942-945 at 4 MiB, 945-972 at 6, 955-978 at
8, where nothing was left to merge even at 30 years (``bench.worker backfill`` and
``bench.backfill``, 1-5 runs each)."""


class Writer:
    """A run's batches into its transaction, invisible until :func:`commit`: each table's
    rows held until :data:`HOLD_BYTES` of them, then appended in one INSERT; :meth:`flush`
    appends what is held, before anything reads the run's tables (the summaries)."""

    def __init__(self, run: Transaction) -> None:
        self.run = run
        self.held: dict[str, list[pl.DataFrame]] = {}

    def write(self, batch: Batch) -> None:
        """Hold the batch's rows; append each table whose held rows reached the limit."""
        full: dict[str, pl.DataFrame] = {}
        for name, frame in batch.tables.items():
            held = self.held.setdefault(name, [])
            held.append(frame)
            if sum(part.estimated_size() for part in held) >= HOLD_BYTES:
                full[name] = pl.concat(self.held.pop(name), rechunk=False)
        self.run.append(full)

    def flush(self) -> None:
        """Append every table's held rows (a table held only empty frames counts 0 rows)."""
        held, self.held = self.held, {}
        self.run.append({name: pl.concat(parts, rechunk=False) for name, parts in held.items()})


def summarized(batch: Batch) -> dict[str, pl.DataFrame]:
    """What the summaries need of a written batch (:data:`SUMMARIZED`), nothing more: a
    backfill keeps it for every batch (abstracts and other tables would grow with the run)."""
    return {name: batch.tables[name].select(columns) for name, columns in SUMMARIZED.items()}


def write_replay(run: Transaction, store: Warehouse, again: Replay, batch: Batch) -> None:
    """Write a replay's batch: the replayed files' old quarantine rows go, its own come in
    (quarantine rewritten copy-on-write)."""
    if not again.paths:  # nothing to rewrite
        return
    # The rows of the dumps parsed again, and of the replayed paths' inputs never read; the
    # entry and row rows of a dump that loaded stay (it is not parsed again).
    dump_id = pl.col("dump_id")
    replayed = dump_id.is_in(list(again.dump_ids)) | (
        dump_id.is_null() & pl.col("source_file").is_in(list(again.paths))
    )
    stored = store.scan("quarantine").collect()
    kept = stored.filter(~replayed.fill_null(False))
    rejected = _first_quarantined(batch.quarantine, stored.filter(replayed.fill_null(False)))
    run.replace({"quarantine": pl.concat([kept, rejected])})
    run.append({name: frame for name, frame in batch.tables.items() if name != "quarantine"})


SAME_REJECT = ["source_file", "dump_id", "scope", "table_name", "reason", "detail", "line"]
"""The columns that make a replay's quarantine row the one it supersedes, rejected again."""


def _first_quarantined(rows: pl.DataFrame, superseded: pl.DataFrame) -> pl.DataFrame:
    """A replay's quarantine ``rows``, each rejected again as it was before keeping the
    time it was first quarantined (a replay reset it to its own)."""
    first = superseded.group_by(SAME_REJECT).agg(pl.col("quarantined_at").min().alias("first"))
    return (
        rows.join(first, on=SAME_REJECT, how="left", nulls_equal=True)
        .with_columns(pl.coalesce("first", "quarantined_at").alias("quarantined_at"))
        .select(rows.columns)
    )


def write_summaries(run: Transaction, new: dict[str, list[pl.DataFrame]]) -> dict[str, int]:
    """Compute the summary tables for the rows the run wrote (``new``: table -> its new
    frames), write them too, part by part, and return their row counts."""
    written = {name: pl.concat(parts) for name, parts in new.items() if parts}
    counts: dict[str, int] = {}
    for name, part in summarize(run, written):
        frame = validate_derived(PUBLISHED[name], part, f"summary {name}")
        run.append({name: frame})
        counts[name] = counts.get(name, 0) + frame.height
    return counts


def retag(papers: pl.DataFrame, taxonomy: Taxonomy) -> dict[str, pl.DataFrame]:
    """Every paper tagged again with ``taxonomy``: ``papers`` (its ``taxonomy_version``)
    and ``paper_topics``, to replace whole."""
    retagged = {
        "papers": papers.with_columns(pl.lit(taxonomy.version).alias("taxonomy_version")),
        "paper_topics": frames.paper_topics(papers, taxonomy),
    }
    return {
        name: validate_derived(PUBLISHED[name], frame, f"retopic {name}")
        for name, frame in retagged.items()
    }


def retopic_summaries(run: Transaction) -> dict[str, pl.DataFrame]:
    """``topic_daily`` recomputed whole from the lake as ``run`` leaves it (after
    :func:`retag`'s tables replaced the old ones), to replace whole."""
    daily = topic_daily(run, None)
    return {"topic_daily": validate_derived(PUBLISHED["topic_daily"], daily, "retopic topic_daily")}


@dataclass(frozen=True, slots=True)
class Published:
    """What a run's end left: the snapshot the views show, and whether all of it ran."""

    snapshot: int
    unfinished: str | None = None
    """Why the maintenance or the views' rebuild after the run's commit failed (a full
    disk): the run is published all the same, and the next run, or reader, finishes them."""


def publish(
    warehouse: Warehouse,
    run: Transaction,
    new: dict[str, list[pl.DataFrame]],
    retention_days: float,
) -> tuple[dict[str, int], Published]:
    """The end of a run: its summaries (:func:`write_summaries`, when it wrote rows and
    ``new`` holds any: ``retopic`` has none, its summary already replaced), then its commit
    (:func:`commit`).  Returns the summaries' row counts and what the commit published."""
    counts = write_summaries(run, new) if any(run.rows.values()) and any(new.values()) else {}
    return counts, commit(warehouse, run, retention_days)


def commit(warehouse: Warehouse, run: Transaction, retention_days: float) -> Published:
    """Commit the run (its single commit point), then compact, expire and rebuild the views.

    A run that wrote nothing commits nothing; maintenance still runs (retention is by age).
    A failure after the commit does not fail the run, which is published: it is said (it
    was a traceback, the run reported failed and retried while its rows were in the lake)."""
    if any(run.rows.values()):
        run.commit()
    else:
        run.rollback()
    try:
        warehouse.maintain(retention_days)
        ensure_database(warehouse)
    except (OSError, duckdb.Error) as exc:
        if run.committed is None:
            raise
        return Published(run.committed, f"{type(exc).__name__}: {exc}")
    return Published(warehouse.current_version())
