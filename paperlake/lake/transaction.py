"""One run's writes as one DuckLake transaction, and typed reads of a lake relation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from paperlake import process
from paperlake.lake.layout import (
    LAKE,
    CommitConflict,
    CommitFailed,
    StorageUnavailable,
    sql_str,
)

if TYPE_CHECKING:
    import polars as pl


class Rows:
    """A polars frame DuckDB can scan once registered (Arrow C stream: no pyarrow needed).

    DuckDB keeps every object registered in a transaction until the transaction ends, even
    after ``unregister``: :meth:`release` the frame once scanned, or a run holds every batch
    it wrote until its commit (a 10-year backfill: ~1 GB)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame: pl.DataFrame | None = frame

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        assert self.frame is not None, "scanned after release()"
        return self.frame.__arrow_c_stream__(requested_schema)

    def release(self) -> None:
        self.frame = None


SPILL = ".spill"
"""The folder, inside the warehouse, where DuckDB writes what a query of a run holds beyond
its memory limit (:meth:`Transaction.bounded`).  DuckDB creates it when it first spills and
deletes it when the run's connection closes; a killed run's is removed by
:meth:`~paperlake.lake.maintenance.Maintenance.recover`.  (DuckDB's own default is ``.tmp``
in the working directory: a run never writes outside its warehouse.)"""


class Transaction:
    """One run's writes: every batch and summary, committed together by :meth:`commit`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str, root: Path) -> None:
        self.con = con
        self.run_id = run_id
        self.rows: dict[str, int] = {}
        """Rows inserted per table (a replaced table or page date counts its new rows)."""
        self.published = False
        """Whether :meth:`commit` went through (set before its snapshot id is read)."""
        self.committed: int | None = None
        """The snapshot :meth:`commit` published; None before (or until its id is read)."""
        con.execute(f"SET temp_directory = {sql_str(str(root / SPILL))}")
        con.execute("BEGIN TRANSACTION")

    def scan(self, table: str) -> pl.LazyFrame:
        """``table`` as this transaction sees it (its own writes included)."""
        return read_relation(self.con, f"{LAKE}.{table}", table)

    def append(self, frames: dict[str, pl.DataFrame]) -> None:
        """Insert ``frames``; a table of :data:`~paperlake.schemas.tables.REPLACED_BY` has
        the stored rows of each value of its column in its frame replaced.  No frames, no
        statement (a :class:`~paperlake.publish.Writer` holding every table appends none)."""
        from paperlake.schemas.tables import REPLACED_BY

        if not frames:
            return
        with one_thread(self.con):
            for name, frame in frames.items():
                column = REPLACED_BY.get(name)
                if column is not None and frame.height:
                    self._delete_values(name, column, frame[column].unique().sort().to_list())
                self._insert(name, frame)

    def _delete_values(self, name: str, column: str, values: list[object]) -> None:
        """Delete the rows of ``name`` whose ``column`` is one of ``values`` (sorted): a
        daily run's new page date reads no file (:func:`among`) and, matching no row, leaves
        no delete file and no change (10-year lake: 0.5 ms of CPU; ``IN ?`` alone read every
        file, 12 ms; a DELETE scanning the month's file and matching nothing, 7 ms)."""
        where, params = among(column, values)
        self.con.execute(f"DELETE FROM {LAKE}.{name} WHERE {where}", params)

    def forget_unreadable(self, paths: list[str]) -> None:
        """Delete the ``unreadable`` quarantine rows of ``paths``, inputs read since: the
        file loaded (or was quarantined for what its bytes hold) and was still listed as
        never read."""
        where, params = among("source_file", sorted(paths))
        self.con.execute(
            f"DELETE FROM {LAKE}.quarantine WHERE dump_id IS NULL AND reason = 'unreadable' "
            f"AND {where}",
            params,
        )

    def replace(self, frames: dict[str, pl.DataFrame]) -> None:
        """Replace each table in ``frames`` whole by its frame."""
        with one_thread(self.con):
            for name, frame in frames.items():
                self.con.execute(f"DELETE FROM {LAKE}.{name}")
                self._insert(name, frame)

    @contextmanager
    def registered(self, **frames: pl.DataFrame) -> Iterator[None]:
        """Each frame scannable by its keyword's name in this transaction's queries while the
        block runs; unregistered and released after (see :class:`Rows`)."""
        rows = {name: Rows(frame) for name, frame in frames.items()}
        for name, wrapped in rows.items():
            self.con.register(name, wrapped)
        try:
            yield
        finally:
            for name, wrapped in rows.items():
                self.con.unregister(name)
                wrapped.release()

    @contextmanager
    def bounded(self, memory: str) -> Iterator[None]:
        """Run the block with DuckDB's memory limited to ``memory`` (e.g. ``'256MB'``): what
        its queries hold beyond that is spilled to the warehouse's :data:`SPILL` folder.
        After the block the limit is DuckDB's default again (a run sets no other)."""
        self.con.execute(f"SET memory_limit = {sql_str(memory)}")
        with restoring(self.con, "RESET memory_limit"):
            yield

    def _insert(self, name: str, frame: pl.DataFrame) -> None:
        self.rows[name] = self.rows.get(name, 0) + frame.height
        if frame.height:
            with self.registered(incoming=frame):
                self.con.execute(f"INSERT INTO {LAKE}.{name} BY NAME SELECT * FROM incoming")

    def commit(self) -> int:
        """The run's single commit point: one snapshot with the run id and rows per table;
        returns its id.

        On one DuckDB thread: DuckLake's commit is ~50 small catalog statements (a few per
        table), for which a second thread only costs CPU (a daily run's 12 tables on a
        10-year lake: 33 ms of CPU against 52 ms, 12 commits each, alternated)."""
        info = json.dumps({"run_id": self.run_id, "rows": self.rows}, sort_keys=True)
        with one_thread(self.con):
            self.con.execute(
                f"CALL {LAKE}.set_commit_message('paperlake', ?, extra_info => ?)",
                [f"paperlake run {self.run_id}", info],
            )
            try:
                self.con.execute("COMMIT")
            except duckdb.TransactionException as exc:
                raise commit_failed(self.run_id, exc) from exc
            self.published = True  # before any other statement: a stop now finds it said
            process.published(self)
        snapshot = self.con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()
        assert snapshot is not None
        self.committed = int(snapshot[0])
        return self.committed

    def rollback(self) -> None:
        self.con.execute("ROLLBACK")


CONNECTION_LOST = (
    "server closed the connection",
    "connection to server",
    "could not connect",
    "no connection to the server",
    "terminating connection",
    'Failed to execute query "ROLLBACK"',
)
"""What the PostgreSQL extension says when a shared lake's catalog connection dropped (a
server restart, a network cut): the statement, or the COMMIT's own rollback, failed."""


_DENIED = re.compile(r"permission denied for \w+ [\w.\"]+")


def connection_lost(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in CONNECTION_LOST)


CONFLICT = ("conflict", "retry count", "duplicate key", "unique constraint", "serialize")
"""What DuckLake and PostgreSQL say when another writer committed first (DuckLake's own
"Transaction conflict", its retries exhausted, two snapshots with one id)."""


def commit_failed(run_id: str, exc: duckdb.TransactionException) -> Exception:
    """Why a COMMIT failed, as the error to raise: the catalog role may not write (no use
    running again: :class:`StorageUnavailable`); its connection dropped, or another writer
    committed a conflicting change first (nothing published, run again:
    :class:`CommitConflict`); anything else (a read-only or full catalog server) as
    :class:`CommitFailed`, not run again."""
    reason = str(exc).strip().splitlines()[0]
    denied = _DENIED.search(str(exc))
    if denied is not None:  # the error also holds the whole commit's SQL: name only this
        return StorageUnavailable(
            f"run {run_id} could not commit: the catalog refused it ({denied[0]}): "
            "the catalog's role needs SELECT, INSERT, UPDATE and DELETE on its tables; "
            "nothing of this run was published"
        )
    if connection_lost(exc):
        return CommitConflict(
            f"run {run_id} could not commit: the catalog's connection failed ({reason}); "
            "nothing of this run was published"
        )
    if any(marker in str(exc).lower() for marker in CONFLICT):
        return CommitConflict(f"run {run_id} lost the commit to another writer: {reason}")
    return CommitFailed(f"run {run_id} could not commit ({reason}): nothing of it was published")


def among(column: str, values: Sequence[object]) -> tuple[str, dict[str, object]]:
    """A condition ``column`` is one of ``values`` (sorted, at least one), and its
    parameters.  Its range lets DuckLake and DuckDB skip every file and row group whose
    ``column`` statistics lie outside it; the list keeps only the values themselves."""
    condition = f"{column} BETWEEN $first AND $last AND list_contains($values, {column})"
    return condition, {"first": values[0], "last": values[-1], "values": values}


@contextmanager
def one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block with one DuckDB thread, then restore the connection's setting.

    Writes: scanning a frame's Arrow stream and encoding Parquet on several threads cost
    ~1.6x the CPU of one thread (appending a 10-year backfill's batches: 4.0 s against 2.6 s
    of CPU, 10 s against 3 s of wall at load 4): a backfill already keeps the other core
    busy transforming the next chunk, and a daily run's frames are small.  Compaction
    (:meth:`~paperlake.lake.maintenance.Maintenance.maintain`) likewise: after a 30-year
    backfill it rose +27 MB above its start on two threads, +0 MB on one, for the same CPU."""
    row = con.execute("SELECT current_setting('threads')").fetchone()
    assert row is not None
    con.execute("SET threads = 1")
    with restoring(con, f"SET threads = {int(row[0])}"):
        yield


@contextmanager
def restoring(con: duckdb.DuckDBPyConnection, statement: str) -> Iterator[None]:
    """Run the block, then ``statement`` (a setting put back).  After a block that failed,
    a ``statement`` that fails too is dropped: the block's error is the one to report (an
    aborted transaction refuses every statement, and an upload that failed mid-run must
    reach :meth:`~paperlake.lake.catalog.Catalog.session` as the I/O error it is)."""
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            con.execute(statement)
        raise
    con.execute(statement)


def read_relation(con: duckdb.DuckDBPyConnection, relation: str, table: str) -> pl.LazyFrame:
    import polars as pl

    from paperlake.schemas.tables import PUBLISHED, polars_schema

    schema = polars_schema(PUBLISHED[table])
    columns = ", ".join(schema.names())
    frame = pl.DataFrame(con.sql(f"SELECT {columns} FROM {relation}"))
    return frame.cast(dict(schema)).lazy()  # type: ignore[arg-type]
