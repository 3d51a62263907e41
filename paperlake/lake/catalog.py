"""The DuckLake catalog: attach (create, evolve), the run's session and transaction."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from paperlake.lake.base import WarehouseBase
from paperlake.lake.layout import (
    CLAIM,
    DATA,
    DUCKLAKE,
    LAKE,
    METADATA,
    OPENED_AT,
    SHARED_EXTENSIONS,
    CatalogError,
    StorageUnavailable,
    WarehouseBusy,
    connect_with,
    s3_secret_sql,
    sql_str,
)
from paperlake.lake.raw import atomic_write
from paperlake.lake.transaction import Rows, Transaction, connection_lost

_ENSURE_ATTEMPTS = 5
"""Two first runs on a fresh shared catalog both create the tables; the later one looks again
(its commit fails, or a table it creates is already there)."""
ATTACH_WAIT_SECONDS = 10.0
"""The catalog is a DuckDB file: one process at a time.  Others retry this long."""
READER_WAIT_SECONDS = 0.5
"""How long a reader (``sql``, ``report``, ...) retries the catalog held by another process
before it answers from the views it has (:func:`paperlake.cli.connect`).  A run holds the
catalog for all its length (a backfill: minutes), and readers waited the whole
:data:`ATTACH_WAIT_SECONDS`, then failed as busy (exit 75); another reader rebuilding the
views holds it ~0.1-0.2 s (10 years), which this still waits for."""

PARQUET_OPTIONS = {
    "papers": {"parquet_compression": "zstd", "parquet_compression_level": "1"},
}
"""DuckLake ``set_option``s per table: how its Parquet files are written, DuckLake's defaults
(snappy, 122,880-row groups, format 1) for the others.  They are kept in the catalog, so they
hold for compaction's rewrites and every client of a shared lake; :meth:`Catalog.connect`
sets them on a lake's first run and on the next run of a lake made before them.

Measured with ``python -m bench.write`` (a 10-year backfill's batches appended to a new lake
per setting, side by side) and the views' CPU on one thread: the write stage's CPU is
DuckDB's Parquet encoding of the string columns (their dictionaries), the Arrow scan and a
fixed ~4 ms per INSERT, not the codec.  No codec or row group size lowered the whole stage
beyond the noise (~5 s +- 0.4); format 2 and zstd level 3 raised it (+0.8 s, +1 s).
``papers`` is the exception: its abstracts (130 MB) take 21 MB with zstd level 1 against 75
MB with snappy, for less CPU to write (0.63-0.70 s against 0.86) and to read (the ``papers``
view: 300 ms against 456).  zstd everywhere would halve the lake (83 MB against 164) but
made the search 13% slower (``paper_terms``), ``topic_daily``'s small files 2x slower to
read, and compaction dearer (its files fall under ``SMALL_FILE_BYTES`` and are merged).
``title_words`` was the other while it stored strings: format 2 delta-length encodes them, and a
daily run's two reads of it on a 10-year lake cost 0.057 + 0.19 s of CPU with format 1, 0.049 +
0.16 s with format 2.  It stores integers now (``paperlake.summaries``), which format 2
delta-packs for nothing: its 971k rows materialized in 0.036 s of CPU with format 1, 0.037 s
with format 2, 600 words' rows counted in 0.013 s and 0.014 s (one thread, medians of 7,
alternated).  A lake that set it keeps it on the string table it drops when it converts it
(:meth:`Catalog._hash_title_words`)."""


class Catalog(WarehouseBase):
    def _has_data(self, folders: tuple[str, ...] = (DATA, "raw", "_manifests")) -> bool:
        """Anything a catalog must already describe: data files, raw inputs, old layout."""
        return any(
            any(path.is_file() for path in (self.root / folder).rglob("*"))
            for folder in folders
            if (self.root / folder).exists()
        )

    def catalog_lost(self, adopt_raw: bool = False) -> CatalogError | None:
        """The error every command that opens the lake raises when a local warehouse holds
        data but no catalog (lost, or the old layout), without opening anything; else None.
        ``adopt_raw`` (rebuild, migrate): a raw archive alone is no data a catalog lost."""
        folders = (DATA, "_manifests") if adopt_raw else (DATA, "raw", "_manifests")
        if self.shared is not None or self.catalog_path.exists() or not self._has_data(folders):
            return None
        return self._missing_catalog()

    def _missing_catalog(self) -> CatalogError:
        if (self.root / "_manifests").exists():
            return CatalogError(
                f"{self.root} holds a warehouse in the old manifest layout and no catalog "
                f"{self.catalog_path}: run `paperlake migrate` to move it to DuckLake"
            )
        return CatalogError(
            f"the lake catalog {self.catalog_path} is missing but the warehouse holds data: "
            "restore the file from a backup, or run `paperlake rebuild` to rebuild the lake "
            "from the raw archive (nothing has been changed or deleted)"
        )

    def connect(
        self,
        create: bool = False,
        read_only: bool = False,
        adopt_raw: bool = False,
        private: bool = False,
        wait_seconds: float = ATTACH_WAIT_SECONDS,
    ) -> duckdb.DuckDBPyConnection:
        """A new in-memory DuckDB connection with the lake attached as ``lk``.

        ``create`` makes a new catalog, but only in a warehouse that holds no data yet:
        never over files a lost catalog used to describe.  ``adopt_raw`` (rebuild, migrate)
        allows a raw archive to exist already.  ``private`` (read-only, a local catalog):
        attach a copy of the catalog (:meth:`_private_copy`), for a user's query that may
        run for minutes: DuckDB locks a database file for as long as a connection has it
        open, and a run that cannot attach the catalog within ~10 s fails as busy.
        ``wait_seconds``: how long to retry a catalog another process holds before
        :class:`WarehouseBusy`.
        """
        lost = self.catalog_lost(adopt_raw)
        if lost is not None:
            raise lost
        if self.shared is None and not self.catalog_path.exists() and not create:
            raise CatalogError(f"no warehouse at {self.root}: run `paperlake ingest PATH` first")
        con = connect_with(DUCKLAKE, *(SHARED_EXTENSIONS if self.shared else ()))
        try:
            copy = None
            if self.shared is None:
                self.data_path.mkdir(parents=True, exist_ok=True)
                copy = self._private_copy() if private and read_only else None
                catalog = copy or str(self.catalog_path)
            else:
                con.execute(s3_secret_sql())
                catalog = f"postgres:{self.shared.catalog}"
            options = f"DATA_PATH {sql_str(self.data_location())}"
            options += ", DATA_INLINING_ROW_LIMIT 0, OVERRIDE_DATA_PATH true"
            options += ", READ_ONLY" if read_only else ""
            attach = f"ATTACH {sql_str('ducklake:' + catalog)} AS {LAKE}"
            deadline = time.monotonic() + wait_seconds
            try:
                while True:
                    try:
                        con.execute(f"{attach} ({options})")
                        break
                    except duckdb.Error as exc:
                        if not self._retry_attach(exc) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
            finally:
                if copy is not None:  # attached, DuckDB keeps it open; else not needed
                    for path in (copy, f"{copy}.wal"):
                        Path(path).unlink(missing_ok=True)
            if self.shared is not None:
                self._check_data_path(con)
            if not read_only:
                for ensure in (self._ensure_tables, self._ensure_options):
                    for attempt in range(1, _ENSURE_ATTEMPTS + 1):
                        try:
                            ensure(con)
                            break
                        except (duckdb.TransactionException, duckdb.CatalogException):
                            # Another machine created the tables (set the options) since
                            # this one looked: its COMMIT failed (which ends the
                            # transaction), or its CREATE found the table there (which does
                            # not).  Look again.
                            with suppress(duckdb.Error):
                                con.execute("ROLLBACK")
                            if attempt == _ENSURE_ATTEMPTS:
                                raise
        except duckdb.Error as exc:
            con.close()
            if "Could not set lock" in str(exc):  # another process writes it
                raise WarehouseBusy(f"a run is writing the catalog {self.catalog_path}") from exc
            if self.shared is not None:
                raise CatalogError(
                    f"the shared lake (catalog {self.shared.catalog}, data {self.shared.lake}) "
                    f"cannot be reached: {exc}"
                ) from exc
            raise CatalogError(
                f"the lake catalog {self.catalog_path} cannot be read ({exc}): restore it from "
                "a backup, or move it aside and run `paperlake rebuild` to rebuild the lake "
                "from the raw archive (nothing has been changed or deleted)"
            ) from exc
        except BaseException:
            con.close()
            raise
        return con

    def _check_data_path(self, con: duckdb.DuckDBPyConnection) -> None:
        """A shared catalog holds one lake: the data path it recorded when it was created
        must be the one given (attached with ``OVERRIDE_DATA_PATH``, a typo in ``--lake``
        would read nothing and write new files where no reader of the catalog looks)."""
        assert self.shared is not None
        row = con.execute(
            f"SELECT value FROM {METADATA}.ducklake_metadata WHERE key = 'data_path'"
        ).fetchone()
        recorded = None if row is None else str(row[0]).rstrip("/")
        if recorded is not None and recorded != self.data_location().rstrip("/"):
            raise CatalogError(
                f"the catalog {self.shared.catalog} holds the lake whose data is at {recorded}/, "
                f"not {self.data_location()}: point --lake (PAPERLAKE_LAKE) at "
                f"{recorded.removesuffix('/data')}, or give this lake a catalog database of its "
                "own"
            )

    def _private_copy(self) -> str:
        """A copy of the local catalog (and its write-ahead log) in the temporary folder,
        taken while holding the catalog's read lock, so no run is writing it meanwhile (a
        run that holds it is waited for, as an attach waits).  20-30 ms for a 10-year lake's
        7.6 MB catalog."""
        fd, copy = tempfile.mkstemp(prefix="paperlake-catalog-", suffix=".ducklake")
        os.close(fd)
        deadline = time.monotonic() + ATTACH_WAIT_SECONDS
        try:
            while True:
                try:
                    with duckdb.connect(str(self.catalog_path), read_only=True):
                        shutil.copyfile(self.catalog_path, copy)
                        wal = Path(f"{self.catalog_path}.wal")
                        if wal.exists():
                            shutil.copyfile(wal, f"{copy}.wal")
                    return copy
                except duckdb.Error as exc:
                    if not self._retry_attach(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        except BaseException:  # a full temporary folder too: no half copy left behind
            for left in (copy, f"{copy}.wal"):
                Path(left).unlink(missing_ok=True)
            raise

    def data_location(self) -> str:
        """The lake's data path, as attached (it overrides the one the catalog recorded)."""
        return f"{self.shared.lake}/data/" if self.shared else str(self.data_path) + "/"

    def _retry_attach(self, exc: duckdb.Error) -> bool:
        """A local catalog: a reader's brief look at it (history, views) holds its lock.
        A shared one: another machine's first run is creating the catalog's tables."""
        if self.shared is None:
            return isinstance(exc, duckdb.IOException) and "Could not set lock" in str(exc)
        return "Failed to initialize DuckLake" in str(exc)

    @staticmethod
    def _ensure_options(con: duckdb.DuckDBPyConnection) -> None:
        """Set the :data:`PARQUET_OPTIONS` the lake lacks: on its first run, after the tables
        exist (DuckLake sets none on a table its transaction creates), and on the next run
        of a lake made before them; otherwise one catalog read."""
        current = {
            (table, option): value
            for table, option, value in con.execute(
                f"SELECT t.table_name, m.key, m.value FROM {METADATA}.ducklake_metadata AS m "
                f"JOIN {METADATA}.ducklake_table AS t "
                "ON m.scope = 'table' AND m.scope_id = t.table_id AND t.end_snapshot IS NULL"
            ).fetchall()
        }
        for table, options in PARQUET_OPTIONS.items():
            for option, value in options.items():
                if current.get((table, option)) != value:
                    con.execute(
                        f"CALL {LAKE}.set_option(?, ?, table_name => ?)", [option, value, table]
                    )

    def _ensure_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create missing tables and columns (schema evolution), in one commit; none when
        nothing is missing (registering every table's empty frame to read its types, and the
        commit, cost each run ~0.06 s of CPU)."""
        import polars as pl

        from paperlake.schemas.tables import PUBLISHED, REPLACED_BY, polars_schema

        existing = {
            (table, column)
            for table, column in con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ?",
                [LAKE],
            ).fetchall()
        }
        tables = {table for table, _ in existing}
        incomplete = {
            name: model
            for name, model in PUBLISHED.items()
            if any((name, column) not in existing for column in polars_schema(model).names())
        }
        partitioned = [name for name in REPLACED_BY if self._partitioned(con, name)]
        claim = self.shared is not None and CLAIM not in tables
        if incomplete or partitioned or claim:  # the first run after an upgrade
            con.execute("BEGIN TRANSACTION")
            for name, model in incomplete.items():
                con.register("typed", Rows(pl.DataFrame(schema=polars_schema(model))))
                if name not in tables:
                    con.execute(f"CREATE TABLE {LAKE}.{name} AS SELECT * FROM typed LIMIT 0")
                for column, sql_type, *_ in con.execute("DESCRIBE typed").fetchall():
                    if name in tables and (name, column) not in existing:
                        con.execute(f"ALTER TABLE {LAKE}.{name} ADD COLUMN {column} {sql_type}")
                con.unregister("typed")
            for name in partitioned:
                con.execute(f"ALTER TABLE {LAKE}.{name} RESET PARTITIONED BY")
            if claim:
                con.execute(f"CREATE TABLE {LAKE}.{CLAIM} AS SELECT '' AS run_id")
            done = "tables created" if incomplete or claim else "summaries' partitioning reset"
            con.execute(f"CALL {LAKE}.set_commit_message('paperlake', ?)", [f"({done})"])
            con.execute("COMMIT")
        for name in REPLACED_BY:
            # Decided by the files, not by the partitioning: a rewrite that did not commit
            # (killed, or it lost to another machine's commit) is redone by the next run.
            if self._has_partitioned_files(con, name):
                self._unpartition(con, name)
        if self._words_as_text(con):  # decided by the stored type: redone until committed
            self._hash_title_words(con)

    @staticmethod
    def _unpartition(con: duckdb.DuckDBPyConnection, table: str) -> None:
        """Rewrite ``table``'s rows into new files, after its partitioning was reset in a
        commit of its own (DuckLake's extension 1.5.5 fails on an insert in the transaction
        that resets it).  A lake written while the daily summaries were partitioned by
        month holds a file per month of each (see
        :data:`~paperlake.schemas.tables.REPLACED_BY`), and merging keeps files of different
        months apart, so they are copied once: the rows are inserted again, then the old
        ones deleted by row id, which drops their files whole.  Until the commit DuckDB
        numbers a transaction's new rows from 10**18, above every stored row id; the row
        count is checked before the commit all the same.  A 10-year lake's: 1.0 s of CPU,
        200 MB peak (through a temporary table, 2.2 s and 520 MB).  Killed before its
        commit, nothing changed: the rows are all there, in the old files, and the next
        run rewrites them."""
        kept_as = "its rows stay in their monthly files"
        with Catalog._rewriting(con, table, "rewriting", "unpartitioned", kept_as):
            [(last,)] = con.execute(f"SELECT max(rowid) FROM {LAKE}.{table}").fetchall()
            con.execute(f"INSERT INTO {LAKE}.{table} FROM {LAKE}.{table}")
            con.execute(f"DELETE FROM {LAKE}.{table} WHERE rowid <= ?", [last])

    @staticmethod
    def _words_as_text(con: duckdb.DuckDBPyConnection) -> bool:
        """Whether the lake's ``title_words`` stores its words as strings (a lake written
        before they were hashed: :meth:`_hash_title_words`)."""
        row = con.execute(
            "SELECT data_type FROM duckdb_columns() "
            "WHERE database_name = ? AND table_name = 'title_words' AND column_name = 'word'",
            [LAKE],
        ).fetchone()
        return row == ("VARCHAR",)

    @staticmethod
    def _hash_title_words(con: duckdb.DuckDBPyConnection) -> None:
        """Rewrite a ``title_words`` of strings (word, paper_id VARCHAR) as the integers the
        title summaries now store (``sql/summaries/macros.sql``), in one commit: its stored
        rows converted, not every title indexed again, in (word, paper_id) order like the
        parts a run writes.  DuckLake cannot change a column from VARCHAR to UBIGINT, so the
        rows go to a new table that replaces the old one.  Killed before its commit, nothing
        changed: the next run finds the strings and converts them again.  A 10-year lake's
        970k rows: 1.0 s of CPU, once, and +52 MB of peak RSS over opening the lake (237
        against 185 MB).  The dropped table's files stay while a kept snapshot names them
        (:meth:`~paperlake.lake.maintenance.Maintenance.maintain` expires them)."""
        from paperlake.summaries import define_title_macros

        define_title_macros(con)
        with Catalog._rewriting(con, "title_words", "hashing", "hashed", "its words stay strings"):
            con.execute(
                "CREATE TEMP TABLE hashed_words AS SELECT word_hash(word) AS word, "
                f"paper_number(paper_id) AS paper_id, is_end FROM {LAKE}.title_words "
                "ORDER BY ALL"
            )
            con.execute(f"DROP TABLE {LAKE}.title_words")
            con.execute(f"CREATE TABLE {LAKE}.title_words AS FROM temp.hashed_words")
            con.execute("DROP TABLE temp.hashed_words")

    @staticmethod
    @contextmanager
    def _rewriting(
        con: duckdb.DuckDBPyConnection, table: str, doing: str, done: str, otherwise: str
    ) -> Iterator[None]:
        """One commit in which the block rewrites ``table``'s rows (a migration of a lake
        written before: :meth:`_unpartition`, :meth:`_hash_title_words`), committed as
        ``(<table> <done>)`` only if the table still holds as many rows; otherwise rolled
        back with a :class:`CatalogError` (never seen).  Killed before the commit, nothing
        changed, and the next run rewrites the table again."""
        con.execute("BEGIN TRANSACTION")
        stored = Catalog._rows(con, table)
        yield
        kept = Catalog._rows(con, table)
        if kept != stored:
            con.execute("ROLLBACK")
            raise CatalogError(
                f"{table}: {doing} its {stored} rows would have left {kept}; rolled back, "
                f"{otherwise}"
            )
        con.execute(f"CALL {LAKE}.set_commit_message('paperlake', ?)", [f"({table} {done})"])
        con.execute("COMMIT")

    @staticmethod
    def _rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
        """How many rows ``table`` holds, as the connection's transaction sees it."""
        [(rows,)] = con.execute(f"SELECT count(*) FROM {LAKE}.{table}").fetchall()
        return int(rows)

    @staticmethod
    def _has_partitioned_files(con: duckdb.DuckDBPyConnection, table: str) -> bool:
        """Whether a current data file of ``table`` was written partitioned."""
        row = con.execute(
            f"SELECT EXISTS (SELECT 1 FROM {METADATA}.ducklake_data_file AS f "
            f"JOIN {METADATA}.ducklake_table AS t USING (table_id) "
            f"JOIN {METADATA}.ducklake_file_partition_value AS v USING (data_file_id) "
            "WHERE t.table_name = ? AND t.end_snapshot IS NULL AND f.end_snapshot IS NULL)",
            [table],
        ).fetchone()
        return row == (True,)

    @staticmethod
    def _partitioned(con: duckdb.DuckDBPyConnection, table: str) -> bool:
        """Whether ``table``'s current partitioning has a key (``RESET PARTITIONED BY``
        leaves a current partitioning with none)."""
        row = con.execute(
            f"SELECT count(*) FROM {METADATA}.ducklake_partition_info AS p "
            f"JOIN {METADATA}.ducklake_table AS t USING (table_id) "
            f"JOIN {METADATA}.ducklake_partition_column AS c USING (partition_id, table_id) "
            "WHERE t.table_name = ? AND t.end_snapshot IS NULL AND p.end_snapshot IS NULL",
            [table],
        ).fetchone()
        return row is not None and row[0] > 0

    @contextmanager
    def session(
        self, create: bool = True, adopt_raw: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold one connection to the lake for a run (a catalog is opened once per process);
        a local lake's snapshot at its opening is noted (:meth:`opened_at`)."""
        self._con = self.connect(create=create, adopt_raw=adopt_raw)
        try:
            if self.shared is None:
                self._note_opened(self._con)
            yield self._con
        except duckdb.Error as exc:
            # HTTP errors (the bucket, the catalog) are I/O errors; a dropped catalog
            # connection surfaces from whichever statement met it (a BinderException, ...).
            if self.shared is None or not (
                isinstance(exc, duckdb.IOException) or connection_lost(exc)
            ):
                raise
            reason = str(exc).strip().splitlines()[0]
            if self._run is not None and self._run.published:
                snapshot = (
                    "" if self._run.committed is None else f" as snapshot {self._run.committed}"
                )
                raise StorageUnavailable(
                    f"the shared lake failed after the run was published{snapshot} ({reason}): "
                    f"what was left (maintenance) is done by the next run once "
                    f"{self._endpoint()} answers"
                ) from exc
            raise StorageUnavailable(
                f"the shared lake failed mid-run ({reason}): nothing of this run was "
                f"published; run it again once {self._endpoint()} answers"
            ) from exc
        finally:
            con, self._con, self._run = self._con, None, None
            if self.shared is not None:
                # An open transaction is rolled back here, not by close(): a rollback that
                # fails inside close() (the catalog server gone) aborts the whole process.
                with suppress(duckdb.Error):
                    con.execute("ROLLBACK")
            con.close()

    def _note_opened(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write :data:`OPENED_AT`: the snapshot current now, while this process holds the
        catalog.  The old note goes first: a note that cannot be written is no note, and a
        reader then waits for the catalog instead of trusting an older one."""
        note = self.root / OPENED_AT
        note.unlink(missing_ok=True)
        row = con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()
        assert row is not None
        with suppress(OSError):  # a full disk: no note, readers wait for the catalog
            atomic_write(note, f"{int(row[0])}\n".encode())

    def opened_at(self) -> int | None:
        """The snapshot current when the process holding the catalog opened it (the last
        one to open it, if none holds it now); None if unknown."""
        try:
            return int((self.root / OPENED_AT).read_text())
        except (OSError, ValueError):
            return None

    def _endpoint(self) -> str:
        assert self.shared is not None
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return f"{endpoint or 'S3'} ({self.shared.lake}) and the catalog {self.shared.catalog}"

    @contextmanager
    def _connection(
        self, wait_seconds: float = ATTACH_WAIT_SECONDS
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._con is not None:
            yield self._con
            return
        con = self.connect(read_only=True, wait_seconds=wait_seconds)
        try:
            yield con
        finally:
            con.close()

    def begin(self, run_id: str) -> Transaction:
        """Start the run's transaction (inside :meth:`session`)."""
        assert self._con is not None, "begin() needs an open session()"
        run = self._run = Transaction(self._con, run_id, self.root)
        if self.shared is not None:
            self._con.execute(f"UPDATE {LAKE}.{CLAIM} SET run_id = ?", [run_id])
        return run
