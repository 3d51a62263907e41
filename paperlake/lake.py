"""The warehouse on disk: raw archive, DuckLake tables, lock.

Layout (everything below ``root``)::

    raw/<aa>/<sha256>.txt             every input's exact bytes, by content hash
    lake/catalog.ducklake             the DuckLake catalog (a DuckDB database): tables,
                                      snapshots, which Parquet files make up each snapshot
    lake/data/main/<table>/*.parquet  the data files, written and managed by DuckLake
    paperlake.duckdb                  views over the current snapshot (see paperlake.views)
    .lock                             held by the one run allowed to write

A run is one DuckLake transaction holding every batch and summary it writes, committed once
with the run id and rows per table as commit info: readers see the previous snapshot or the
next, never a mix.  Files a killed run wrote are in no snapshot; :meth:`Warehouse.recover`
deletes them (DuckLake's orphaned-file cleanup).  :meth:`Warehouse.maintain` compacts and
expires old snapshots after every run, so files and catalog stay bounded.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import duckdb_extension_ducklake
import duckdb_extension_httpfs
import duckdb_extension_postgres_scanner

from paperlake.config import DEFAULT_RETENTION_DAYS

if TYPE_CHECKING:
    import polars as pl

# polars and the Pandera contracts are imported where a run needs them, never at import
# time: the read-only CLI commands open the views through this module and start in ~0.2 s.

DB_NAME = "paperlake.duckdb"
CATALOG = "lake/catalog.ducklake"
DATA = "lake/data"
LAKE = "lk"
"""Name the lake is attached under in every connection."""
CLAIM = "writer_claim"
"""Shared storage only: a one-row table every run updates, so that two runs at once always
conflict at commit and the later one runs again.  DuckLake lets concurrent inserts into a
table both commit, and a run's replace of a partition that did not exist yet deletes no row,
so without the claim two runs could both add the same month's summary rows."""
_ENSURE_ATTEMPTS = 5
"""Two first runs on a fresh shared catalog both create the tables; the later one retries."""
ARCHIVE_MODE = 0o640
"""Archived dumps: readable by the owner's group, never world-readable."""
_SYNC_THREADS = 8
_ATTACH_WAIT_SECONDS = 10.0
"""The catalog is a DuckDB file: one process at a time.  Others retry this long."""
_REWRITE = f"CALL ducklake_rewrite_data_files('{LAKE}', ?, delete_threshold => 0)"
"""Rewrite a table's files that have deleted rows (any share), so none has a delete file."""
ORPHAN_GRACE = "1 day"
"""On shared storage another machine's run may be writing files no snapshot lists yet, so
only files unlisted for this long are deleted as a killed run's leftovers."""


def _extension(module: object, name: str) -> Path:
    folder = Path(str(getattr(module, "__file__", ""))).parent
    return next(folder.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))


_EXTENSION = _extension(duckdb_extension_ducklake, "ducklake")
_HTTPFS = _extension(duckdb_extension_httpfs, "httpfs")
_SHARED_EXTENSIONS = (_HTTPFS, _extension(duckdb_extension_postgres_scanner, "postgres_scanner"))
"""Loaded by file path (autoinstall cannot reach the network) only for shared storage."""


@dataclass(frozen=True, slots=True)
class Shared:
    """The lake's data and raw archive in an S3 bucket, its catalog in PostgreSQL."""

    lake: str
    """``s3://bucket/prefix`` (no trailing slash)."""
    catalog: str
    """``postgres://user@host:port/database`` (a libpq connection URI)."""

    @classmethod
    def from_settings(cls, lake: str | None, catalog: str | None) -> Shared | None:
        """``lake``/``catalog`` (flags) else ``$PAPERLAKE_LAKE``/``$PAPERLAKE_CATALOG``; None
        when neither is set (the local folder); both or neither, else :class:`CatalogError`."""
        lake = lake or os.environ.get("PAPERLAKE_LAKE") or None
        catalog = catalog or os.environ.get("PAPERLAKE_CATALOG") or None
        if lake is None and catalog is None:
            return None
        if lake is None or not lake.startswith("s3://") or catalog is None:
            raise CatalogError(
                f"shared storage needs both --lake s3://bucket/prefix and --catalog "
                f"postgres://user@host:port/db (got lake={lake!r}, catalog={catalog!r})"
            )
        if not catalog.startswith(("postgres://", "postgresql://")):
            raise CatalogError(f"--catalog {catalog!r}: expected postgres://user@host:port/db")
        return cls(lake.rstrip("/"), catalog)


def s3_secret_sql() -> str:
    """An S3 secret from the standard AWS variables (``AWS_ENDPOINT_URL`` for a server
    other than AWS: path-style URLs, TLS only for https)."""
    options = ["TYPE s3"]
    for variable, option in (
        ("AWS_ACCESS_KEY_ID", "KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "SECRET"),
        ("AWS_SESSION_TOKEN", "SESSION_TOKEN"),
    ):
        if os.environ.get(variable):
            options.append(f"{option} {_sql_str(os.environ[variable])}")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options.append(f"REGION {_sql_str(region)}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.append(f"ENDPOINT {_sql_str(host.rstrip('/'))}")
        options.append("URL_STYLE 'path'")
        options.append(f"USE_SSL {'true' if scheme == 'https' else 'false'}")
    return f"CREATE OR REPLACE SECRET paperlake_s3 ({', '.join(options)})"


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse lock."""


class CatalogError(RuntimeError):
    """The catalog is missing or unreadable: the message names the file and what to do."""


class CommitConflict(RuntimeError):
    """Another writer of a shared lake committed a conflicting change first; nothing of
    this run was published and it can run again."""


class StorageUnavailable(CatalogError):
    """The bucket or the catalog server of a shared lake failed during a run."""


class LockRefused(RuntimeError):
    """The lock file is a symlink: refused, so the link's target is never written."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    """DuckLake snapshot id."""
    tables: dict[str, list[str]]
    """Table name -> absolute paths of its data files at this snapshot (no delete files)."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    at: datetime
    run_id: str
    message: str
    rows: dict[str, int] = field(default_factory=dict)


def _fsync(path: Path) -> None:
    """fsync a file or a folder (a folder's entries: names created or renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` so that it holds either its old content or all of ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # after a failed write or rename; gone after a rename
    _fsync(path.parent)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Rows:
    """A polars frame DuckDB can scan once registered (Arrow C stream: no pyarrow needed)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


class Transaction:
    """One run's writes: every batch and summary, committed together by :meth:`commit`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        self.con = con
        self.run_id = run_id
        self.rows: dict[str, int] = {}
        """Rows inserted per table (a replaced table or partition counts its new rows)."""
        con.execute("BEGIN TRANSACTION")

    def scan(self, table: str) -> pl.LazyFrame:
        """``table`` as this transaction sees it (its own writes included)."""
        return _read(self.con, f"{LAKE}.{table}", table)

    def append(self, frames: dict[str, pl.DataFrame]) -> None:
        """Insert ``frames``; a partitioned table has each partition in its frame replaced."""
        from paperlake.schemas.tables import PARTITIONED

        for name, frame in frames.items():
            column = PARTITIONED.get(name)
            if column is not None and frame.height:
                values = frame[column].unique().to_list()
                self.con.execute(f"DELETE FROM {LAKE}.{name} WHERE {column} IN ?", [values])
            self._insert(name, frame)

    def replace(self, frames: dict[str, pl.DataFrame]) -> None:
        """Replace each table in ``frames`` whole by its frame."""
        for name, frame in frames.items():
            self.con.execute(f"DELETE FROM {LAKE}.{name}")
            self._insert(name, frame)

    def _insert(self, name: str, frame: pl.DataFrame) -> None:
        self.rows[name] = self.rows.get(name, 0) + frame.height
        if frame.height:
            self.con.register("incoming", Rows(frame))
            self.con.execute(f"INSERT INTO {LAKE}.{name} BY NAME SELECT * FROM incoming")
            self.con.unregister("incoming")

    def commit(self) -> int:
        """The run's single commit point: one snapshot with the run id and rows per table;
        returns its id."""
        info = json.dumps({"run_id": self.run_id, "rows": self.rows}, sort_keys=True)
        self.con.execute(
            f"CALL {LAKE}.set_commit_message('paperlake', ?, extra_info => ?)",
            [f"paperlake run {self.run_id}", info],
        )
        try:
            self.con.execute("COMMIT")
        except duckdb.TransactionException as exc:
            message = f"run {self.run_id} lost the commit to another writer: {exc}"
            raise CommitConflict(message) from exc
        snapshot = self.con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()
        assert snapshot is not None
        return int(snapshot[0])

    def rollback(self) -> None:
        self.con.execute("ROLLBACK")


def _read(con: duckdb.DuckDBPyConnection, relation: str, table: str) -> pl.LazyFrame:
    import polars as pl

    from paperlake.schemas.tables import PUBLISHED, polars_schema

    schema = polars_schema(PUBLISHED[table])
    columns = ", ".join(schema.names())
    frame = pl.DataFrame(con.sql(f"SELECT {columns} FROM {relation}"))
    return frame.cast(dict(schema)).lazy()  # type: ignore[arg-type]


class Warehouse:
    def __init__(self, root: Path, lake: str | None = None, catalog: str | None = None) -> None:
        self.root = root.resolve()
        """The working folder: lock, views and (local storage) the lake itself."""
        self.shared = Shared.from_settings(lake, catalog)
        """Shared storage, from the arguments or ``$PAPERLAKE_LAKE``/``$PAPERLAKE_CATALOG``."""
        self._deferring = False
        self._pending: dict[Path, Path] = {}
        """Archive files written inside :meth:`archiving`: final path -> temp path."""
        self._con: duckdb.DuckDBPyConnection | None = None
        """The run's connection to the lake, open inside :meth:`session`."""

    # ---- paths -------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG

    @property
    def data_path(self) -> Path:
        return self.root / DATA

    def raw_relpath(self, dump_id: str) -> str:
        return f"raw/{dump_id[:2]}/{dump_id}.txt"

    @property
    def location(self) -> str:
        """Where the lake is, for messages: the bucket, else the folder."""
        return self.shared.lake if self.shared else str(self.root)

    def _raw_url(self, rel: str) -> str:
        assert self.shared is not None
        return f"{self.shared.lake}/{rel}"

    def read_raw(self, rel: str) -> bytes:
        """An archived input's bytes (``rel`` as :meth:`archive` returned it)."""
        if self.shared is None:
            return (self.root / rel).read_bytes()
        with self._bucket() as con:
            row = con.execute("SELECT content FROM read_blob(?)", [self._raw_url(rel)]).fetchone()
        assert row is not None
        return bytes(row[0])

    @contextmanager
    def _bucket(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the bucket alone, for the raw archive: never the run's, so a
        failed upload does not abort the run's transaction (the task retries it)."""
        con = duckdb.connect()
        try:
            con.execute(f"LOAD {_sql_str(str(_HTTPFS))}")
            con.execute(s3_secret_sql())
            yield con
        finally:
            con.close()

    def _put_raw(self, rel: str, source: str, parameters: list[object] | None = None) -> None:
        """Upload ``source`` (a SQL expression giving one BLOB) as ``rel``.  An object PUT
        is atomic, so the archive holds each input whole or not at all; the name is the
        content's hash, so writing it again writes the same bytes."""
        with self._bucket() as con:
            url = _sql_str(self._raw_url(rel))
            con.execute(f"COPY (SELECT {source}) TO {url} (FORMAT blob)", parameters)

    def archive(self, data: bytes) -> tuple[str, str]:
        """Keep ``data`` under its sha256; return (dump_id, path relative to root).

        Content-addressed, so archiving the same bytes twice is a no-op, and landing file
        names never decide where anything is written.  Inside :meth:`archiving` the file
        is only in place (and durable) when that block ends.
        """
        dump_id = hashlib.sha256(data).hexdigest()
        rel = self.raw_relpath(dump_id)
        if self.shared is not None:
            self._put_raw(rel, "?::BLOB", [data])
            return dump_id, rel
        target = self.root / rel
        if target.exists() or target in self._pending:
            return dump_id, rel
        if self._deferring:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            tmp.write_bytes(data)
            tmp.chmod(ARCHIVE_MODE)
            self._pending[target] = tmp
        else:
            atomic_write(target, data, ARCHIVE_MODE)
        return dump_id, rel

    @contextmanager
    def archiving(self) -> Iterator[None]:
        """Archive many files and make them durable together when the block ends.

        Two fsyncs per file (file and folder) cost ~1 ms each, in series; here every file
        is written first, then all are fsynced at once from a thread pool (the disk works
        on them in parallel), renamed into place, and each folder is fsynced once.  A file
        is never in place before its bytes are durable, so a crash leaves only temp files,
        which :meth:`recover` removes.
        """
        self._deferring = True
        try:
            yield
            with ThreadPoolExecutor(_SYNC_THREADS) as pool:
                list(pool.map(_fsync, self._pending.values()))
                for target, tmp in self._pending.items():
                    os.replace(tmp, target)
                list(pool.map(_fsync, {target.parent for target in self._pending}))
        except BaseException:
            for tmp in self._pending.values():
                tmp.unlink(missing_ok=True)
            raise
        finally:
            self._deferring = False
            self._pending = {}

    def store_streamed(self, tmp: Path, rel: str) -> None:
        """Put a streamed input's durable temp file ``tmp`` in place as ``rel``."""
        if self.shared is not None:
            try:
                self._put_raw(rel, f"content FROM read_blob({_sql_str(str(tmp))})")
            finally:
                tmp.unlink()
            return
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()
        else:
            os.replace(tmp, target)

    # ---- the lake ----------------------------------------------------------------------
    def _has_data(self, folders: tuple[str, ...] = (DATA, "raw", "_manifests")) -> bool:
        """Anything a catalog must already describe: data files, raw inputs, old layout."""
        return any(
            any(path.is_file() for path in (self.root / folder).rglob("*"))
            for folder in folders
            if (self.root / folder).exists()
        )

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
        self, create: bool = False, read_only: bool = False, adopt_raw: bool = False
    ) -> duckdb.DuckDBPyConnection:
        """A new in-memory DuckDB connection with the lake attached as ``lk``.

        ``create`` makes a new catalog, but only in a warehouse that holds no data yet:
        never over files a lost catalog used to describe.  ``adopt_raw`` (rebuild, migrate)
        allows a raw archive to exist already.
        """
        if self.shared is None and not self.catalog_path.exists():
            if self._has_data((DATA, "_manifests") if adopt_raw else (DATA, "raw", "_manifests")):
                raise self._missing_catalog()
            if not create:
                raise CatalogError(
                    f"no warehouse at {self.root}: run `paperlake ingest PATH` first"
                )
        con = duckdb.connect()
        try:
            con.execute(f"LOAD {_sql_str(str(_EXTENSION))}")
            if self.shared is None:
                self.data_path.mkdir(parents=True, exist_ok=True)
                data, catalog = str(self.data_path) + "/", str(self.catalog_path)
            else:
                for extension in _SHARED_EXTENSIONS:
                    con.execute(f"LOAD {_sql_str(str(extension))}")
                con.execute(s3_secret_sql())
                data, catalog = f"{self.shared.lake}/data/", f"postgres:{self.shared.catalog}"
            options = f"DATA_PATH {_sql_str(data)}"
            options += ", DATA_INLINING_ROW_LIMIT 0, OVERRIDE_DATA_PATH true"
            options += ", READ_ONLY" if read_only else ""
            attach = f"ATTACH {_sql_str('ducklake:' + catalog)} AS {LAKE}"
            deadline = time.monotonic() + _ATTACH_WAIT_SECONDS
            while True:
                try:
                    con.execute(f"{attach} ({options})")
                    break
                except duckdb.Error as exc:
                    if not self._retry_attach(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            if not read_only:
                for attempt in range(1, _ENSURE_ATTEMPTS + 1):
                    try:
                        self._ensure_tables(con)
                        break
                    except duckdb.TransactionException:  # a failed COMMIT ends the transaction
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
        return con

    def _retry_attach(self, exc: duckdb.Error) -> bool:
        """A local catalog: a reader's brief look at it (history, views) holds its lock.
        A shared one: another machine's first run is creating the catalog's tables."""
        if self.shared is None:
            return isinstance(exc, duckdb.IOException) and "Could not set lock" in str(exc)
        return "Failed to initialize DuckLake" in str(exc)

    def _ensure_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create missing tables and columns (schema evolution), in one commit."""
        import polars as pl

        from paperlake.schemas.tables import PUBLISHED, polars_schema

        existing = {
            (table, column)
            for table, column in con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ?",
                [LAKE],
            ).fetchall()
        }
        tables = {table for table, _ in existing}
        con.execute("BEGIN TRANSACTION")
        for name, model in PUBLISHED.items():
            con.register("typed", Rows(pl.DataFrame(schema=polars_schema(model))))
            if name not in tables:
                con.execute(f"CREATE TABLE {LAKE}.{name} AS SELECT * FROM typed LIMIT 0")
            for column, sql_type, *_ in con.execute("DESCRIBE typed").fetchall():
                if name in tables and (name, column) not in existing:
                    con.execute(f"ALTER TABLE {LAKE}.{name} ADD COLUMN {column} {sql_type}")
            con.unregister("typed")
        if self.shared is not None and CLAIM not in tables:
            con.execute(f"CREATE TABLE {LAKE}.{CLAIM} AS SELECT '' AS run_id")
        con.execute(f"CALL {LAKE}.set_commit_message('paperlake', '(tables created)')")
        con.execute("COMMIT")

    @contextmanager
    def session(
        self, create: bool = True, adopt_raw: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold one connection to the lake for a run (a catalog is opened once per process)."""
        self._con = self.connect(create=create, adopt_raw=adopt_raw)
        try:
            yield self._con
        except duckdb.IOException as exc:  # HTTP errors included: the bucket, the catalog
            if self.shared is None:
                raise
            reason = str(exc).strip().splitlines()[0]
            raise StorageUnavailable(
                f"the shared lake failed mid-run ({reason}): nothing of this run was "
                f"published; run it again once {self._endpoint()} answers"
            ) from exc
        finally:
            self._con.close()
            self._con = None

    def _endpoint(self) -> str:
        assert self.shared is not None
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return f"{endpoint or 'S3'} ({self.shared.lake}) and the catalog {self.shared.catalog}"

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._con is not None:
            yield self._con
            return
        con = self.connect(read_only=True)
        try:
            yield con
        finally:
            con.close()

    def begin(self, run_id: str) -> Transaction:
        """Start the run's transaction (inside :meth:`session`)."""
        assert self._con is not None, "begin() needs an open session()"
        run = Transaction(self._con, run_id)
        if self.shared is not None:
            self._con.execute(f"UPDATE {LAKE}.{CLAIM} SET run_id = ?", [run_id])
        return run

    def scan(self, table: str) -> pl.LazyFrame:
        """The table at the current snapshot, as one lazy frame over its data files (so
        only the columns and rows a query needs are read)."""
        import polars as pl

        from paperlake.schemas.tables import PUBLISHED, polars_schema

        with self._connection() as con:
            if self.shared is not None:  # read through DuckDB, which holds the S3 secret
                return _read(con, f"{LAKE}.{table}", table)
            files = self._files(con, table)
        if not files:
            return pl.LazyFrame(schema=polars_schema(PUBLISHED[table]))
        # Files written before a column existed read it as null (schema evolution).
        return pl.scan_parquet(
            files,
            schema=polars_schema(PUBLISHED[table]),
            missing_columns="insert",
            extra_columns="ignore",
        )

    def current(self) -> Snapshot:
        """The current snapshot and its data files, for views that read them directly.

        Views over the files would show deleted rows, so a table with delete files (a run
        killed between its commit and :meth:`maintain`) has them rewritten first when a
        session is open, else this raises."""
        with self._connection() as con:
            names = con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1",
                [LAKE],
            ).fetchall()
            tables = {name: self._files(con, name) for (name,) in names}
            version = con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()
        assert version is not None
        return Snapshot(int(version[0]), tables)

    def current_version(self) -> int:
        """The current snapshot's id, read cheaply (no file listing)."""
        with self._connection() as con:
            version = con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()
        assert version is not None
        return int(version[0])

    def _files(self, con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
        listing = "SELECT data_file, delete_file FROM ducklake_list_files(?, ?)"
        rows = con.execute(listing, [LAKE, table]).fetchall()
        if any(delete is not None for _, delete in rows):
            if con is not self._con:
                raise CatalogError(
                    f"table {table} has deleted rows not yet rewritten: run `paperlake maintain`"
                )
            con.execute(_REWRITE, [table])
            rows = con.execute(listing, [LAKE, table]).fetchall()
        return sorted(data for data, _ in rows)

    def history(self) -> list[HistoryEntry]:
        """Every snapshot still kept, oldest first."""
        with self._connection() as con:
            rows = con.execute(
                "SELECT snapshot_id, snapshot_time, commit_message, commit_extra_info "
                "FROM ducklake_snapshots(?) ORDER BY snapshot_id",
                [LAKE],
            ).fetchall()
        entries = []
        for version, at, message, extra in rows:
            info = json.loads(extra) if extra else {}
            entries.append(
                HistoryEntry(
                    version, at, info.get("run_id", ""), message or "", info.get("rows", {})
                )
            )
        return entries

    def maintain(self, retention_days: float = DEFAULT_RETENTION_DAYS) -> None:
        """Compact and expire (inside :meth:`session`, under the lock).

        Files with deleted rows are rewritten (so the current snapshot has no delete files),
        small files merged (older snapshots stay readable: they refer to parts of the merged
        file), snapshots older than ``retention_days`` expired, and files no snapshot uses
        any more deleted once they have been unused since before this call: a reader
        holding the previous views keeps its files until the next run.
        """
        assert self._con is not None, "maintain() needs an open session()"
        try:
            self._maintain(self._con, retention_days)
        except duckdb.TransactionException:
            if self.shared is None:
                raise
            # Another machine committed meanwhile; the run is published, the next run
            # compacts.

    def _maintain(self, con: duckdb.DuckDBPyConnection, retention_days: float) -> None:
        started = con.execute("SELECT now()").fetchone()
        assert started is not None
        con.execute(f"CALL ducklake_rewrite_data_files('{LAKE}', delete_threshold => 0)")
        con.execute(f"CALL ducklake_merge_adjacent_files('{LAKE}')")
        con.execute(
            f"CALL ducklake_expire_snapshots('{LAKE}', older_than => now() - ?::INTERVAL)",
            [f"{retention_days * 86400:.0f} seconds"],
        )
        con.execute(f"CALL ducklake_cleanup_old_files('{LAKE}', older_than => ?)", [started[0]])

    # ---- recovery ----------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove what a killed run left behind; return what was removed (relative paths).

        Must run inside :meth:`session`, under the lock: data files in no snapshot were
        written by a run that never committed; temp files were never renamed into place.
        """
        assert self._con is not None, "recover() needs an open session()"
        if self.shared is None:
            orphans = f"CALL ducklake_delete_orphaned_files('{LAKE}', cleanup_all => true)"
        else:
            orphans = (
                f"CALL ducklake_delete_orphaned_files('{LAKE}', "
                f"older_than => now() - INTERVAL '{ORPHAN_GRACE}')"
            )
        removed = [
            path if self.shared else Path(path).resolve().relative_to(self.root).as_posix()
            for (path,) in self._con.execute(orphans).fetchall()
        ]
        # ".*.tmp-*": a temp file of the root's own files (the views' database, dashboard.html)
        for pattern in ("raw/**/.*.tmp-*", ".*.tmp-*"):
            for path in self.root.glob(pattern):
                path.unlink()
                removed.append(path.relative_to(self.root).as_posix())
        return sorted(removed)

    # ---- lock --------------------------------------------------------------------------
    @contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the single-writer lock for the duration of a run.

        ``flock`` is released by the kernel when its holder dies, so a killed run never
        leaves a stale lock behind; the holder's description in the file is only for the
        message shown to the next run.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".lock"
        try:  # never through a symlink: a planted link would have the run truncate its target
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise LockRefused(
                f"{path} is a symbolic link; remove it (it is not followed)"
            ) from None
        handle = open(fd, "r+")  # noqa: SIM115 - held for the whole block
        deadline = time.monotonic() + wait_seconds
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "an unknown process"
                        raise WarehouseBusy(
                            f"another run holds the warehouse {self.root} since {holder}"
                        ) from None
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"{datetime.now(UTC).isoformat(timespec='seconds')} "
                f"(pid {os.getpid()} on {socket.gethostname()})\n"
            )
            handle.flush()
            yield
        finally:
            handle.close()
