"""Validate stage: every frame is checked against its Pandera contract before the next stage
uses it, and everything rejected becomes one quarantine row.

:class:`Rejects` collects a chunk's quarantine rows; each remembers what it belongs to (its
*owners*: the dump it came from, the paper it describes, the unreadable input it reports)
so that :func:`paperlake.transform.reconcile` can drop the copy a later chunk made of
something an earlier chunk already handled.  :func:`validated` is the one place a failing
row turns into a quarantine row, whatever its table and scope.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from paperlake.rejects import Reject, Scope
from paperlake.schemas.tables import Quarantine, polars_schema
from paperlake.schemas.validate import validate_rows

if TYPE_CHECKING:
    import pandera.polars as pa

    from paperlake.archive import RawDump
    from paperlake.discover import Unreadable

MAX_QUARANTINED_TITLE = 300
"""Longer titles are cut in quarantine rows (the archive keeps the whole input)."""


def dump_owner(dump_id: str) -> str:
    return f"dump:{dump_id}"


def paper_owner(paper_id: str) -> str:
    return f"paper:{paper_id}"


def unreadable_owner(path: str, detail: str) -> str:
    return f"unreadable:{path}\0{detail}"


class Rejects:
    """The quarantine rows of one chunk, in the order they were found."""

    def __init__(self, run_id: str, now: datetime, raws: list[RawDump]) -> None:
        self.rows: list[dict[str, Any]] = []
        self.owners: list[tuple[str, ...]] = []
        """Per row, what it belongs to (see :func:`dump_owner` and friends)."""
        self._raws: dict[str, RawDump] = {}
        """dump_id -> its first input, to name the file behind any failing row."""
        for raw in raws:
            self._raws.setdefault(raw.dump_id, raw)
        self._run_id = run_id
        self._now = now
        self._entries: pl.DataFrame | None = None
        """The chunk's published entries, to name the file and line of a per-paper row."""

    def add(
        self,
        *,
        source_file: str,
        dump_id: str | None,
        scope: Scope,
        reason: Reject,
        detail: str,
        owners: tuple[str, ...],
        line: int | None = None,
        title: str | None = None,
        table_name: str | None = None,
    ) -> None:
        raw = self._raws.get(dump_id or "")
        if title is not None and len(title) > MAX_QUARANTINED_TITLE:
            title = f"{title[: MAX_QUARANTINED_TITLE - 3]}..."
        self.rows.append(
            {
                "source_file": source_file,
                "dump_id": dump_id,
                "scope": scope,
                "table_name": table_name,
                "reason": reason.value,
                "detail": detail,
                "line": line,
                "title": title,
                "archive_path": raw.archive_path if raw and scope != "row" else None,
                "run_id": self._run_id,
                "quarantined_at": self._now,
            }
        )
        self.owners.append(owners)

    def unreadable(self, unread: Unreadable) -> None:
        """An input that could not be read at all (no bytes, so no dump id)."""
        self.add(
            source_file=unread.path,
            dump_id=None,
            scope="file",
            reason=Reject.UNREADABLE,
            detail=unread.detail,
            owners=(unreadable_owner(unread.path, unread.detail),),
        )

    def input(
        self,
        raw: RawDump,
        scope: Scope,
        reason: Reject,
        detail: str,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        """(Part of) an input that was read and archived: a whole file or one entry."""
        self.add(
            source_file=raw.path,
            dump_id=raw.dump_id,
            scope=scope,
            reason=reason,
            detail=detail,
            owners=(dump_owner(raw.dump_id),),
            line=line,
            title=title,
        )

    def source_file(self, dump_id: str | None) -> str:
        raw = self._raws.get(dump_id or "")
        return raw.path if raw else "(unknown)"

    def describe_papers(self, entries: pl.DataFrame) -> None:
        """Keep the chunk's entries (dump_id, line, title, paper_id): a failing row of a
        per-paper table (links, entities, topics...) is then quarantined with the file,
        line and title of the entry that brought its paper in, not as "(unknown)".  Only
        read when a row fails."""
        self._entries = entries

    def paper_origin(self, paper_id: str) -> dict[str, Any]:
        """The dump_id, line and title of the first entry of ``paper_id`` (none known: {})."""
        if self._entries is None:
            return {}
        first = self._entries.filter(pl.col("paper_id") == paper_id).head(1)
        return first.select("dump_id", "line", "title").to_dicts()[0] if first.height else {}

    def entry_problems(self) -> Counter[str]:
        """Entries quarantined so far, per dump."""
        return Counter(row["dump_id"] for row in self.rows if row["scope"] == "entry")

    def frame(self) -> pl.DataFrame:
        frame = pl.DataFrame(self.rows, schema=polars_schema(Quarantine), orient="row")
        good, failures = validate_rows(Quarantine, frame)
        if failures:
            raise RuntimeError(f"quarantine rows broke their own contract: {failures[0].detail}")
        return good


OWNER_COLUMNS = {"dump_id": dump_owner, "first_dump_id": dump_owner, "paper_id": paper_owner}
"""Columns whose value a row belongs to, and how that owner is named."""


def validated(
    model: type[pa.DataFrameModel],
    frame: pl.DataFrame,
    rejects: Rejects,
    owned_by: tuple[str, ...],
    scope: Scope = "row",
) -> pl.DataFrame:
    """The rows of ``frame`` that pass ``model``; each other row is quarantined with the
    failed check.  ``scope`` says what a failure rejects: an entry, a whole file (a dump's
    own row), or just that row; ``owned_by`` names the columns (of :data:`OWNER_COLUMNS`)
    whose values the row belongs to."""
    good, failures = validate_rows(model, frame)
    for failure in failures:
        row = frame.row(failure.row, named=True)
        if "paper_id" in row and not ({"dump_id", "first_dump_id"} & row.keys()):
            row = rejects.paper_origin(row["paper_id"]) | row
        dump_id = row.get("dump_id") or row.get("first_dump_id")
        rejects.add(
            source_file=row.get("source_file") or row.get("path") or rejects.source_file(dump_id),
            dump_id=dump_id,
            scope=scope,
            reason=Reject.SCHEMA,
            detail=failure.detail,
            owners=tuple(OWNER_COLUMNS[column](row[column]) for column in owned_by),
            line=row.get("line"),
            title=row.get("title"),
            table_name=model.__name__.lower(),
        )
    return good
