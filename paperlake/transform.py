"""The transform of a chunk of dumps, and the reconcile step that joins chunks in order.

:func:`transform` is a pure function of (archived inputs, a read-only :class:`Known`
snapshot of the warehouse at run start, taxonomy, run id, time): it parses, validates and
normalizes a chunk and returns new frames, mutating nothing, so chunks can run at once on
any task runner (arguments and results pickle).  Each frame is validated before the next
step uses it::

    parse -> entries (Entries) -> dumps (Dumps) -> listings, papers -> enrichments, sources

A row that breaks a contract goes to quarantine with Pandera's failure case; a dump whose
row fails takes its entries with it, so no listing ever points at an unpublished dump.

Chunks do not see each other, so :func:`reconcile` merges their batches in chunk order as
if they had run one after another: a paper new in two chunks is kept once (the first chunk
wins, with its enrichments), bytes already handled by an earlier chunk add only their
``sources`` row and count as a duplicate, an unreadable input is reported once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import polars as pl

from paperlake import frames
from paperlake.archive import RawDump, Replay
from paperlake.discover import Unreadable
from paperlake.parse import DumpRejected, ParsedDump, parse_dump, too_large
from paperlake.rejects import Reject
from paperlake.schemas.tables import PUBLISHED, Dumps, Entries, Listings, Papers, Sources
from paperlake.topics import Taxonomy
from paperlake.validate import (
    Rejects,
    dump_owner,
    paper_owner,
    unreadable_owner,
    validated,
)

PAPER_TABLES = ("papers", *frames.ENRICHMENTS)
"""Tables with one or more rows per new paper: a paper's rows come from one chunk only."""


@dataclass(frozen=True, slots=True)
class Known:
    """What the warehouse held when the run started, as far as a chunk needs to know."""

    dumps: frozenset[str] = frozenset()
    """Dump ids loaded or quarantined as whole files."""
    papers: pl.Series = field(default_factory=lambda: pl.Series("paper_id", [], pl.String))
    """Paper ids, as the lake column: a chunk only tests its entries against them
    (``frames.papers``), so they never become Python strings (~0.03 s of CPU per run at
    ten years, 83k papers)."""
    unreadable: frozenset[tuple[str, str]] = frozenset()
    """(path, detail) of inputs already quarantined as unreadable: not reported twice."""
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Path -> (size, mtime_ns) when last read: unchanged files are not read again."""
    taxonomies: frozenset[str] = frozenset()
    """The taxonomy versions that tagged the published papers (one after a ``retopic``)."""

    @classmethod
    def from_tables(
        cls,
        dumps: pl.LazyFrame,
        papers: pl.LazyFrame,
        quarantine: pl.LazyFrame,
        sources: pl.LazyFrame,
    ) -> Known:
        rejected = quarantine.filter(pl.col("scope") == "file")
        files = sources.sort("seen_at").unique("path", keep="last")
        return cls(
            dumps=frozenset(dumps.select("dump_id").collect()["dump_id"])
            | frozenset(rejected.select("dump_id").drop_nulls().collect()["dump_id"]),
            papers=papers.select("paper_id").collect()["paper_id"],
            taxonomies=frozenset(
                papers.select(pl.col("taxonomy_version").unique()).collect()["taxonomy_version"]
            ),
            unreadable=frozenset(
                rejected.filter(pl.col("reason") == Reject.UNREADABLE.value)
                .select("source_file", "detail")
                .collect()
                .iter_rows()
            ),
            files={
                path: (size, mtime)
                for path, size, mtime in files.select("path", "n_bytes", "mtime_ns")
                .collect()
                .iter_rows()
            },
        )

    def forgetting(self, again: Replay) -> Known:
        """What is known without the quarantined inputs a replay processes again."""
        return replace(
            self,
            dumps=self.dumps - again.dump_ids,
            unreadable=frozenset(u for u in self.unreadable if u[0] not in again.paths),
        )


@dataclass(frozen=True, slots=True)
class Batch:
    """A chunk's frames ready to publish, keyed by lake table name."""

    tables: dict[str, pl.DataFrame]
    owners: list[tuple[str, ...]]
    """Per quarantine row, what it belongs to (``paperlake.validate``), for reconcile."""
    processed: frozenset[str] = frozenset()
    """Dump ids this chunk parsed (loaded or quarantined whole)."""
    duplicates: int = 0
    """Inputs whose bytes were already loaded or quarantined."""

    @property
    def quarantine(self) -> pl.DataFrame:
        return self.tables["quarantine"]

    @property
    def loaded_dump_ids(self) -> list[str]:
        return self.tables["dumps"]["dump_id"].to_list()

    @property
    def quarantined_files(self) -> list[str]:
        """The paths of the inputs quarantined whole, one per input: a replay's path can
        name several (the bytes it held on each day it was quarantined)."""
        # Series operations run in the calling thread; a frame's filter would wait for the
        # polars pool, which the next chunk's transform keeps busy during a backfill.
        scope, files = self.quarantine["scope"], self.quarantine["source_file"]
        return sorted(files.filter(scope == "file"))


def transform(
    raws: list[RawDump],
    unreadable: Sequence[Unreadable],
    known: Known,
    taxonomy: Taxonomy,
    run_id: str,
    now: datetime,
) -> Batch:
    """Parse, validate and normalize one chunk; ``known`` is only read.

    Bytes already in the warehouse (re-runs, copies under another name) add nothing but a
    ``sources`` row.  ``unreadable`` lists inputs that could not be read."""
    rejects = Rejects(run_id, now, raws)
    for unread in dict.fromkeys(unreadable):  # each reported once, and only once ever
        if (unread.path, unread.detail) not in known.unreadable:
            rejects.unreadable(unread)
    fresh: dict[str, RawDump] = {}
    for raw in raws:  # the first input with given bytes is parsed, later copies are duplicates
        if raw.dump_id not in known.dumps:
            fresh.setdefault(raw.dump_id, raw)
    parsed = _parse(list(fresh.values()), rejects)

    entries = validated(Entries, frames.entries(parsed), rejects, ("dump_id",), "entry")
    entries = frames.first_listing(entries)
    parsed = _with_entries(parsed, entries, fresh, rejects)
    dumps = frames.dumps(parsed, fresh, entries, rejects.entry_problems(), run_id, now)
    tables = {"dumps": validated(Dumps, dumps, rejects, ("dump_id",), "file")}
    entries = frames.published_entries(entries, tables["dumps"])
    rejects.describe_papers(entries)
    listings = frames.listings(entries)
    tables["listings"] = validated(Listings, listings, rejects, ("dump_id",))
    papers = frames.papers(entries, known.papers, taxonomy)
    tables["papers"] = validated(Papers, papers, rejects, ("first_dump_id", "paper_id"))
    for name, enrich in frames.ENRICHMENTS.items():
        frame = enrich(tables["papers"], taxonomy)
        tables[name] = validated(PUBLISHED[name], frame, rejects, ("paper_id",))
    tables["sources"] = validated(Sources, frames.sources(raws, now), rejects, ())
    tables["quarantine"] = rejects.frame()
    return Batch(tables, rejects.owners, frozenset(fresh), len(raws) - len(fresh))


def _parse(raws: list[RawDump], rejects: Rejects) -> dict[str, ParsedDump]:
    """Parse each input; whole-file rejects and damaged entries go to quarantine."""
    parsed = {}
    for raw in raws:
        try:
            if raw.data is None:
                raise too_large(raw.n_bytes)
            dump = parse_dump(raw.data, raw.captured_on)
        except DumpRejected as rejected:
            rejects.input(raw, "file", rejected.reason, rejected.detail, rejected.line)
            continue
        parsed[raw.dump_id] = dump
        for problem in dump.problems:
            rejects.input(raw, "entry", problem.reason, problem.detail, problem.line, problem.title)
    return parsed


def _with_entries(
    parsed: dict[str, ParsedDump],
    entries: pl.DataFrame,
    raws: dict[str, RawDump],
    rejects: Rejects,
) -> dict[str, ParsedDump]:
    """``parsed`` without the dumps none of whose entries passed their contract: each is
    quarantined whole as ``no_entries``, beside its entries' own rows (it would otherwise
    fail the Dumps contract as "n_papers: expected >= 1, got 0")."""
    kept = set(entries["dump_id"].unique())
    for dump_id, dump in parsed.items():
        if dump_id not in kept:
            rejects.input(
                raws[dump_id],
                "file",
                Reject.NO_ENTRIES,
                f"none of its {len(dump.entries)} entries after the date label "
                f"{dump.label!r} passed their contract (see its entry rows)",
                dump.label_line,
            )
    return {dump_id: dump for dump_id, dump in parsed.items() if dump_id in kept}


class Reconciler:
    """Takes the chunks' batches in chunk order and returns each without what an earlier
    chunk of the run already produced, so a run can publish a batch as soon as it and those
    before it are done."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        """Owners (``paperlake.validate``) of what earlier chunks produced."""
        self._papers: set[str] = set()

    def add(self, batch: Batch) -> Batch:
        repeated = {dump for dump in batch.processed if dump_owner(dump) in self._seen}
        keep = [self._seen.isdisjoint(owners) for owners in batch.owners]
        tables = dict(batch.tables)
        # Each filter runs only when it drops rows (rarely: chunks seldom overlap), as a
        # frame's filter waits for the polars pool the next chunk's transform keeps busy.
        if repeated:
            for name in ("dumps", "listings"):
                tables[name] = tables[name].filter(~pl.col("dump_id").is_in(list(repeated)))
        # Only this batch's papers an earlier chunk kept are looked up: a filter by every
        # paper seen so far would grow with the run (quadratic over a 30-year backfill).
        papers = tables["papers"]["paper_id"].to_list()
        earlier = self._papers.intersection(papers)
        if earlier:
            for name in PAPER_TABLES:
                tables[name] = tables[name].filter(~pl.col("paper_id").is_in(list(earlier)))
        if not all(keep):
            tables["quarantine"] = tables["quarantine"].filter(pl.Series(keep, dtype=pl.Boolean))
        new_papers = [paper for paper in papers if paper not in earlier]
        self._papers.update(new_papers)
        self._seen.update(paper_owner(paper) for paper in new_papers)
        self._seen.update(dump_owner(dump) for dump in batch.processed)
        quarantine = tables["quarantine"]
        unreadable = quarantine["reason"] == Reject.UNREADABLE.value
        self._seen.update(
            unreadable_owner(path, detail)
            for path, detail in zip(
                quarantine["source_file"].filter(unreadable),
                quarantine["detail"].filter(unreadable),
                strict=True,
            )
        )
        return Batch(
            tables,
            [owners for owners, kept in zip(batch.owners, keep, strict=True) if kept],
            batch.processed - repeated,
            batch.duplicates + len(repeated),
        )


def reconcile(batches: Iterable[Batch]) -> Iterator[Batch]:
    """:class:`Reconciler` over ``batches`` (in chunk order), lazily."""
    return map(Reconciler().add, batches)
