"""Turn a batch of raw dumps into validated, normalized table frames.

Pure with respect to the warehouse: it takes what it needs to know about the past (the paper
ids already published) as an argument and returns frames; storage is ``paperlake.lake``.

Stages, each validated before the next uses its output:
parse -> entries (Entries) -> dumps (Dumps) -> listings / papers -> links, entities, topics.
A row that breaks a contract goes to quarantine with Pandera's failure case; a dump whose
row fails takes its entries with it, so no listing ever points at an unpublished dump.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import polars as pl

from paperlake.entities import tag_entities
from paperlake.keyphrases import paper_keyphrases, paper_terms
from paperlake.normalize import extract_links, paper_id, title_key
from paperlake.parse import DumpRejected, parse_dump, too_large
from paperlake.rejects import Reject
from paperlake.schemas.tables import (
    Dumps,
    Entries,
    Listings,
    PaperEntities,
    PaperKeyphrases,
    PaperLinks,
    Papers,
    PaperTerms,
    PaperTopics,
    Quarantine,
    Sources,
    polars_schema,
)
from paperlake.schemas.validate import validate_rows
from paperlake.topics import Taxonomy

CaptureSource = Literal["file_name", "mtime", "override"]


@dataclass(frozen=True, slots=True)
class RawDump:
    """One input file's bytes, already archived under its hash."""

    path: str
    data: bytes | None
    """None for a file too large to be a dump (archived by streaming, never held)."""
    n_bytes: int
    dump_id: str
    archive_path: str
    mtime_ns: int
    captured_on: date
    captured_on_source: CaptureSource


@dataclass(slots=True)
class Known:
    """What the warehouse already holds, as far as a new batch needs to know."""

    dumps: set[str] = field(default_factory=set)
    """Dump ids loaded or quarantined as whole files."""
    papers: set[str] = field(default_factory=set)
    unreadable: set[tuple[str, str]] = field(default_factory=set)
    """(path, detail) of inputs already quarantined as unreadable: not reported twice."""
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Path -> (size, mtime_ns) when last read: unchanged files are not read again."""

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
            dumps=set(dumps.select("dump_id").collect()["dump_id"])
            | set(rejected.select("dump_id").drop_nulls().collect()["dump_id"]),
            papers=set(papers.select("paper_id").collect()["paper_id"]),
            unreadable=set(
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


@dataclass(slots=True)
class Batch:
    """Frames ready to publish, keyed by lake table name."""

    tables: dict[str, pl.DataFrame]
    loaded_dump_ids: list[str] = field(default_factory=list)
    quarantined_files: list[str] = field(default_factory=list)
    duplicates: int = 0
    """Inputs whose bytes were already loaded or quarantined."""

    @property
    def quarantine(self) -> pl.DataFrame:
        return self.tables["quarantine"]


class _Quarantine:
    """Collects quarantine rows for one batch."""

    def __init__(self, run_id: str, now: datetime, paths: dict[str, str]) -> None:
        self.rows: list[dict[str, Any]] = []
        self.paths = paths
        """dump_id -> source path, to name the file behind any failing row."""
        self._run_id = run_id
        self._now = now

    def add(
        self,
        *,
        source_file: str,
        dump_id: str | None,
        scope: Literal["file", "entry", "row"],
        reason: Reject,
        detail: str,
        line: int | None = None,
        title: str | None = None,
        table_name: str | None = None,
        archive_path: str | None = None,
    ) -> None:
        self.rows.append(
            {
                "source_file": source_file,
                "dump_id": dump_id,
                "scope": scope,
                "table_name": table_name,
                "reason": reason.value,
                "detail": detail,
                "line": line,
                "title": title if title is None or len(title) <= 300 else f"{title[:297]}...",
                "archive_path": archive_path,
                "run_id": self._run_id,
                "quarantined_at": self._now,
            }
        )

    def add_raw(
        self,
        raw: RawDump,
        scope: Literal["file", "entry"],
        reason: Reject,
        detail: str,
        line: int | None = None,
        title: str | None = None,
        table_name: str | None = None,
    ) -> None:
        """Quarantine (part of) an input that was read and archived."""
        self.add(
            source_file=raw.path,
            dump_id=raw.dump_id,
            scope=scope,
            reason=reason,
            detail=detail,
            line=line,
            title=title,
            table_name=table_name,
            archive_path=raw.archive_path,
        )

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=polars_schema(Quarantine), orient="row")


def _frame(model: type, rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=polars_schema(model), orient="row")


def build_batch(
    raws: list[RawDump],
    known: Known,
    taxonomy: Taxonomy,
    run_id: str,
    now: datetime,
    unreadable: Sequence[tuple[str, str]] = (),
) -> Batch:
    """Parse, validate and normalize ``raws``, updating ``known`` with what they add.

    Bytes already in the warehouse (re-runs, copies under another name) add nothing but a
    ``sources`` row.  ``unreadable`` lists (path, why) of inputs that could not be read.
    """
    by_id = {raw.dump_id: raw for raw in raws}
    quarantine = _Quarantine(run_id, now, {raw.dump_id: raw.path for raw in raws})
    for path, detail in unreadable:
        if (path, detail) in known.unreadable:
            continue
        known.unreadable.add((path, detail))
        quarantine.add(
            source_file=path, dump_id=None, scope="file", reason=Reject.UNREADABLE, detail=detail
        )

    # 1. Parse; whole-file rejects and damaged entries go to quarantine.
    entry_rows: list[tuple[str, int, str, str, int]] = []
    parsed = {}
    duplicates = 0
    for raw in raws:
        if raw.dump_id in known.dumps:
            duplicates += 1
            continue
        known.dumps.add(raw.dump_id)
        try:
            if raw.data is None:
                raise too_large(raw.n_bytes)
            dump = parse_dump(raw.data, raw.captured_on)
        except DumpRejected as rejected:
            quarantine.add_raw(raw, "file", rejected.reason, rejected.detail, rejected.line)
            continue
        parsed[raw.dump_id] = dump
        for problem in dump.problems:
            quarantine.add_raw(
                raw, "entry", problem.reason, problem.detail, problem.line, problem.title
            )
        for entry in dump.entries:
            entry_rows.append(
                (raw.dump_id, entry.position, entry.title, entry.abstract, entry.line)
            )

    # 2. Entries contract: one bad entry never sinks its dump.
    entries = _identify(
        pl.DataFrame(
            entry_rows,
            schema={
                "dump_id": pl.String,
                "position": pl.Int32,
                "title": pl.String,
                "abstract": pl.String,
                "line": pl.Int32,
            },
            orient="row",
        )
    )
    checked, failures = validate_rows(Entries, entries)
    for failure in failures:
        row = entries.row(failure.row, named=True)
        quarantine.add_raw(
            by_id[row["dump_id"]],
            "entry",
            Reject.SCHEMA,
            failure.detail,
            row["line"],
            row["title"],
            table_name="entries",
        )
    entries = checked

    # A title listed twice in one dump counts once there: keep its first position.
    entries = entries.unique(["dump_id", "paper_id"], keep="first", maintain_order=True)

    # 3. Dumps contract.  A dump whose row fails is quarantined whole.
    counts = dict(entries.group_by("dump_id").len().iter_rows())
    problems = Counter(row["dump_id"] for row in quarantine.rows if row["scope"] == "entry")
    dump_rows = []
    for dump_id, dump in parsed.items():
        raw = by_id[dump_id]
        dump_rows.append(
            {
                "dump_id": dump_id,
                "source_file": raw.path,
                "archive_path": raw.archive_path,
                "date_label": dump.label,
                "listed_on": dump.listed_on,
                "captured_on": raw.captured_on,
                "captured_on_source": raw.captured_on_source,
                "n_bytes": raw.n_bytes,
                "n_papers": counts.get(dump_id, 0),
                "n_entry_problems": problems.get(dump_id, 0),
                "run_id": run_id,
                "ingested_at": now,
            }
        )
    dumps_all = _frame(Dumps, dump_rows)
    dumps, failures = validate_rows(Dumps, dumps_all)
    for failure in failures:
        row = dumps_all.row(failure.row, named=True)
        quarantine.add(
            source_file=row["source_file"],
            dump_id=row["dump_id"],
            scope="file",
            reason=Reject.SCHEMA,
            detail=failure.detail,
            table_name="dumps",
            archive_path=row["archive_path"],
        )
    entries = entries.filter(pl.col("dump_id").is_in(dumps["dump_id"].implode()))
    entries = entries.join(dumps.select("dump_id", "listed_on"), on="dump_id", how="left")

    # 4. Listings and the papers first seen in this batch.
    tables: dict[str, pl.DataFrame] = {"dumps": dumps}
    tables["listings"] = _validated(
        Listings, entries.select("dump_id", "listed_on", "position", "paper_id"), quarantine
    )
    new = entries.filter(~pl.col("paper_id").is_in(pl.Series(list(known.papers)).implode()))
    new = new.unique("paper_id", keep="first", maintain_order=True)
    papers = new.select(
        "paper_id",
        "title_key",
        "title",
        _clean("abstract"),
        pl.col("dump_id").alias("first_dump_id"),
        pl.lit(taxonomy.version).alias("taxonomy_version"),
    )
    tables["papers"] = papers = _validated(Papers, papers, quarantine)
    known.papers.update(papers["paper_id"].to_list())

    # 5. What each new paper's text says: links, entities, topics.
    link_rows = [
        {"paper_id": pid, "url": link.url, "kind": link.kind, "repo": link.repo}
        for pid, abstract in papers.select("paper_id", "abstract").iter_rows()
        for link in extract_links(abstract)
    ]
    entities = tag_entities(papers.select("paper_id", "title", "abstract"))
    tables["paper_links"] = _validated(PaperLinks, _frame(PaperLinks, link_rows), quarantine)
    tables["paper_entities"] = _validated(PaperEntities, entities, quarantine)
    tables["paper_topics"] = _validated(PaperTopics, taxonomy.tag_papers(papers), quarantine)
    tables["paper_keyphrases"] = _validated(PaperKeyphrases, paper_keyphrases(papers), quarantine)
    tables["paper_terms"] = _validated(PaperTerms, paper_terms(papers), quarantine)

    # 6. Every path read, so later runs skip unchanged files without reading them.
    sources = _frame(
        Sources,
        [
            {
                "path": raw.path,
                "n_bytes": raw.n_bytes,
                "mtime_ns": raw.mtime_ns,
                "dump_id": raw.dump_id,
                "seen_at": now,
            }
            for raw in raws
        ],
    )
    tables["sources"] = _validated(Sources, sources, quarantine)
    tables["quarantine"] = _validated(Quarantine, quarantine.frame(), None)

    return Batch(
        tables,
        loaded_dump_ids=dumps["dump_id"].to_list(),
        quarantined_files=sorted(
            {row["source_file"] for row in quarantine.rows if row["scope"] == "file"}
        ),
        duplicates=duplicates,
    )


def _clean(column: str) -> pl.Expr:
    """Collapse whitespace runs to one space.

    Matching only runs of 2+ or odd whitespace (tabs, NBSP) leaves the common single
    spaces alone: ~5x faster than replacing every whitespace run."""
    return pl.col(column).str.replace_all(r"\s{2,}|[^\S ]", " ").str.strip_chars()


def _identify(entries: pl.DataFrame) -> pl.DataFrame:
    """Clean titles and give each entry its ``title_key`` and ``paper_id``.

    The Unicode key (NFKC + casefold, which polars lacks) is computed in Python once per
    distinct title, not once per listing.
    """
    entries = entries.with_columns(_clean("title"))
    titles = entries.select(pl.col("title").unique())
    keys = [title_key(title) for title in titles["title"]]
    identities = titles.with_columns(
        pl.Series("title_key", keys, dtype=pl.String),
        pl.Series("paper_id", [paper_id(key) for key in keys], dtype=pl.String),
    )
    return entries.join(identities, on="title", how="left", maintain_order="left").select(
        "dump_id", "position", "title", "title_key", "abstract", "line", "paper_id"
    )


def _validated(model: type, frame: pl.DataFrame, quarantine: _Quarantine | None) -> pl.DataFrame:
    """Rows of ``frame`` that pass ``model``; the rest are quarantined as scope 'row'."""
    good, failures = validate_rows(model, frame)
    if failures and quarantine is None:
        raise RuntimeError(f"quarantine rows broke their own contract: {failures[0].detail}")
    for failure in failures:
        assert quarantine is not None
        row = frame.row(failure.row, named=True)
        dump_id = row.get("dump_id") or row.get("first_dump_id")
        quarantine.add(
            source_file=row.get("path") or quarantine.paths.get(dump_id or "", "(unknown)"),
            dump_id=dump_id,
            scope="row",
            reason=Reject.SCHEMA,
            detail=failure.detail,
            title=row.get("title"),
            table_name=model.__name__.lower(),
        )
    return good
