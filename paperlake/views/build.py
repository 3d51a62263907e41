"""Build ``paperlake.duckdb``: the generated staging views, then the SQL files in their
order (:mod:`paperlake.views.files`), over one snapshot's Parquet files; or the same views
in memory over an older snapshot through DuckLake time travel.

A new snapshot of the same layout (same tables, models and SQL files: only the Parquet files
differ) copies the current database and replaces just its staging views, which name the
files; the views over them are kept (DuckDB binds a view when it is queried)."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from paperlake.lake import LAKE, Snapshot, Warehouse
from paperlake.lake.layout import sql_str
from paperlake.views.access import lock_down, private_spill
from paperlake.views.files import (
    SQL_DIR,
    ViewError,
    build_order,
    definitions,
    header,
    sql_files,
    summarized,
)

if TYPE_CHECKING:
    import polars as pl

INTERNAL = "internal"
"""Schema of everything that is not the public interface: ``stg_*`` views, meta."""
STORAGE_VERSION = "v1.0.0"
"""Oldest DuckDB release whose storage format the serving database is written in."""

Meta = tuple[int, str, str | None, str | None]
"""What ``internal.paperlake_meta`` says: snapshot version, warehouse location, layout, and
the SQL files' fingerprint (:func:`sql_fingerprint`)."""


def _duckdb_type(dtype: pl.DataType) -> str:
    import polars as pl  # not at import time: the read-only CLI commands import this module

    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    types = {
        pl.String: "VARCHAR",
        pl.Int32: "INTEGER",
        pl.Int64: "BIGINT",
        pl.UInt64: "UBIGINT",
        pl.Date: "DATE",
        pl.Boolean: "BOOLEAN",
        pl.Float64: "DOUBLE",
    }
    return types[dtype.base_type()]


def staging_view_sql(table: str, source: str) -> str:
    """``internal.stg_<table>``: the lake table ``source`` with exactly its model's columns.

    The Pandera model is the one list of a table's columns; the views read these staging
    views, never the lake directly, so the two ways of reaching the lake (the snapshot's
    files, DuckLake time travel) serve the same columns.
    """
    from paperlake.schemas.tables import PUBLISHED, polars_schema

    columns = ", ".join(polars_schema(PUBLISHED[table]).names())
    return (
        f"CREATE OR REPLACE VIEW {INTERNAL}.{staging_name(table)} AS SELECT {columns} FROM {source}"
    )


def staging_name(table: str) -> str:
    return f"stg_{table}"


def files_source(table: str, files: list[str]) -> str:
    """The relation of a table's part files, plus a typed empty row set.

    ``UNION ALL BY NAME`` with the empty relation gives every declared column its type even
    when no file exists yet, or when older files predate a column (schema evolution).
    """
    if not files:
        return typed_source(table)
    paths = ", ".join(sql_str(path) for path in files)
    return typed_source(table, f"read_parquet([{paths}], union_by_name=true)")


def typed_source(table: str, relation: str | None = None) -> str:
    """``relation`` (none: no rows) with every column of ``table``'s model, typed: a
    column it lacks (older files, or a snapshot from before the column) reads as null."""
    from paperlake.schemas.tables import PUBLISHED, polars_schema

    schema = polars_schema(PUBLISHED[table])
    typed = ", ".join(f"NULL::{_duckdb_type(dtype)} AS {name}" for name, dtype in schema.items())
    empty = f"SELECT {typed} WHERE false"
    return f"({empty})" if relation is None else f"({empty} UNION ALL BY NAME FROM {relation})"


def create_staging_views(con: duckdb.DuckDBPyConnection, sources: dict[str, str]) -> None:
    """The ``internal`` schema and one generated staging view per lake table in ``sources``
    (table -> the relation it is read from)."""
    con.execute(f"CREATE SCHEMA {INTERNAL}")
    for table, source in sources.items():
        con.execute(staging_view_sql(table, source))


def create_sql_views(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> None:
    """Every view and macro of ``sql_dir``, each after the ones it reads."""
    provided = {
        name
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = ?", [INTERNAL]
        ).fetchall()
    }
    for path in build_order(sql_files(sql_dir), provided):
        sql = path.read_text()
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise ViewError(f"{path}: {exc}") from exc
        if path.parent != sql_dir / "staging":
            _describe(con, sql)


def _describe(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Comment each public view and macro ``sql`` creates with its header's first sentence
    (the catalogue's): a BI tool lists it beside the name (``duckdb_views().comment``).
    Every macro here returns a table."""
    _, summary, _ = summarized(header(sql))
    for kind, name in definitions(sql):
        target = "VIEW" if kind == "view" else "MACRO TABLE"
        con.execute(f"COMMENT ON {target} {name} IS {sql_str(summary)}")


def layout(snapshot: Snapshot, sql_dir: Path = SQL_DIR) -> str:
    """What the views are, apart from the files they read: a hash of the staging views over
    no files and of every SQL file.  Two snapshots with one layout differ only in files."""
    digest = hashlib.sha256()
    for table in snapshot.tables:
        digest.update(staging_view_sql(table, files_source(table, [])).encode())
    digest.update(sql_fingerprint(sql_dir).encode())
    return digest.hexdigest()


@functools.cache
def sql_fingerprint(sql_dir: Path = SQL_DIR) -> str:
    """A hash of every SQL file: views built from other files (an older paperlake, before
    an upgrade) are out of date whatever their snapshot (:func:`_built_version`).  Read
    once per process (~25 small files); a reader's start cannot import the schemas, so
    the staging views, which follow the lake's tables, are not part of it."""
    digest = hashlib.sha256()
    for path in sql_files(sql_dir):
        digest.update(f"{path.name}\0{path.read_text()}\0".encode())
    return digest.hexdigest()


def build_database(warehouse: Warehouse, snapshot: Snapshot, sql_dir: Path = SQL_DIR) -> Path:
    """Write ``paperlake.duckdb`` for ``snapshot`` into a temporary file and swap it into
    place: a copy with new staging views when the current one has the same layout, else
    built whole."""
    return _build(warehouse, snapshot, _meta(warehouse), sql_dir)


def _build(
    warehouse: Warehouse, snapshot: Snapshot, meta: Meta | None, sql_dir: Path = SQL_DIR
) -> Path:
    """:func:`build_database`, given what :func:`_meta` read of the current database.

    Every view is written in one transaction: one write-ahead-log commit instead of one per
    view.  A 10-year daily run's 14 staging views (median of 11 builds, 3 runs each side by
    side): 0.07-0.26 s of wall against 0.15-0.32 at load ~5, 0.09 against 0.11 at load
    ~3.5; ~7 ms less CPU.  In a daily run (5 runs of 3 new days each, alternated, load
    ~5.5) the views stage took 0.17 s of wall against 0.23 (median), its CPU unchanged
    within the noise (0.13 s).  Committing straight into a checkpoint
    (``checkpoint_threshold`` 0, no WAL) measured no better.  On one DuckDB thread: binding
    the staging views (reading their files' footers) on two cost 35 ms of CPU against 28
    (a 10-year lake's 14 views, 15 builds each, alternated)."""
    tmp = warehouse.root / f".{warehouse.db_path.name}.tmp-{os.getpid()}"
    try:
        _write_database(warehouse, snapshot, meta, sql_dir, tmp)
    finally:  # a build that failed (a full disk) leaves no temporary file behind
        for leftover in (tmp, Path(f"{tmp}.wal")):
            leftover.unlink(missing_ok=True)
    return warehouse.db_path


def _write_database(
    warehouse: Warehouse, snapshot: Snapshot, meta: Meta | None, sql_dir: Path, tmp: Path
) -> None:
    """:func:`_build`'s database, written as ``tmp`` and renamed into place."""
    tmp.unlink(missing_ok=True)
    shape = layout(snapshot, sql_dir)
    sources = {table: files_source(table, files) for table, files in snapshot.tables.items()}
    fingerprint = sql_fingerprint(sql_dir)
    same = meta is not None and meta[1:] == (str(warehouse.root), shape, fingerprint)
    if same:
        shutil.copyfile(warehouse.db_path, tmp)
    con = duckdb.connect(
        str(tmp), config={"storage_compatibility_version": STORAGE_VERSION, "threads": 1}
    )
    try:
        con.execute("BEGIN TRANSACTION")
        if same:
            for table, source in sources.items():
                con.execute(staging_view_sql(table, source))
            con.execute(
                f"UPDATE {INTERNAL}.paperlake_meta SET snapshot_version = ?, built_at = now()",
                [snapshot.version],
            )
        else:
            create_staging_views(con, sources)
            create_sql_views(con, sql_dir)
            con.execute(
                f"CREATE TABLE {INTERNAL}.paperlake_meta AS SELECT ? AS snapshot_version, "
                "? AS warehouse, now() AS built_at, ? AS layout, ? AS sql",
                [snapshot.version, str(warehouse.root), shape, fingerprint],
            )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, warehouse.db_path)
    _remember(warehouse.db_path, (snapshot.version, str(warehouse.root), shape, fingerprint))


class UnknownSnapshot(ValueError):
    """An ``--as-of`` that names no snapshot the lake keeps: a bad argument (exit 2)."""


def snapshot_at(snapshots: list[tuple[int, datetime]], as_of: str) -> int:
    """The snapshot ``as_of`` names among ``snapshots`` (id, commit time; oldest first): a
    number ``history`` lists, or a timestamp in ISO 8601 naming the last snapshot committed
    at or before it.  Read as ``history`` prints times: without a zone it is UTC, whatever
    the machine's zone (DuckDB's own reading takes the session's zone: a time copied from
    ``history`` named another snapshot, or none, east or west of UTC), and without a
    fraction it names its whole second (``history``'s times are cut to the second: DuckDB's
    reading missed the very snapshot a time was copied from)."""
    first, last = snapshots[0], snapshots[-1]
    kept = f"the lake keeps snapshots {first[0]} to {last[0]}: see `paperlake history`"
    if as_of.isdigit():
        if int(as_of) not in {version for version, _ in snapshots}:
            raise UnknownSnapshot(f"no snapshot {as_of} ({kept})")
        return int(as_of)
    try:
        at = datetime.fromisoformat(as_of.strip())
    except ValueError:
        raise UnknownSnapshot(
            f"{as_of!r} is neither a snapshot number nor a timestamp "
            "(YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]; without a zone it is UTC, as `history` prints)"
        ) from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    within = timedelta(0) if at.microsecond else timedelta(seconds=1)
    before = [
        version for version, committed in snapshots if committed <= at or committed < at + within
    ]
    if not before:
        raise UnknownSnapshot(
            f"no snapshot at or before {at:%Y-%m-%d %H:%M:%S%z}: the first the lake keeps, "
            f"{first[0]}, was committed {first[1].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
    return before[-1]


def as_of_database(
    warehouse: Warehouse, as_of: str, writable_file: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """The same views in memory over an older snapshot (:func:`snapshot_at`), read through
    DuckLake time travel: older snapshots share compacted files, so only the catalog knows
    which of their rows belong to them.  A table created after the snapshot (the lake's
    first, or one a later paperlake added) reads as empty, as it was."""
    from paperlake.schemas.tables import PUBLISHED

    con = warehouse.connect(read_only=True, private=True)
    try:
        snapshots = con.execute(
            "SELECT snapshot_id, snapshot_time FROM ducklake_snapshots(?) ORDER BY snapshot_id",
            [LAKE],
        ).fetchall()
        at = f"VERSION => {snapshot_at(snapshots, as_of)}"
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = {sql_str(private_spill())}")
        # Typed: a snapshot from before a column was added has no such column.
        create_staging_views(con, {table: _source_at(con, table, at) for table in PUBLISHED})
        create_sql_views(con)
    except (duckdb.Error, UnknownSnapshot):
        con.close()
        raise
    return lock_down(con, warehouse, writable_file)  # open_read_only's door, DuckLake loaded


def _source_at(con: duckdb.DuckDBPyConnection, table: str, at: str) -> str:
    """``table`` at the snapshot ``at`` as a typed source; empty if it did not exist yet."""
    relation = f"{LAKE}.{table} AT ({at})"
    try:
        con.execute(f"SELECT * FROM {relation} LIMIT 0")
    except duckdb.CatalogException:
        return typed_source(table)
    return typed_source(table, relation)


def _meta(warehouse: Warehouse) -> Meta | None:
    """(snapshot version, warehouse location, layout) the views were built for; None if
    missing or unreadable (a database older than the layout column has none).

    Read once per version of the file (each read opens the database: ~20 ms of CPU): a run
    reads it when it opens the warehouse and again when it publishes.  The file is only
    ever replaced whole (:func:`_build`), so its inode, size and mtime name its version."""
    try:
        stat = warehouse.db_path.stat()
    except FileNotFoundError:
        return None
    key = _version_key(warehouse.db_path, stat)
    if key not in _READ:
        _remember(warehouse.db_path, _read_meta(warehouse.db_path), stat)
    return _READ[key]


_READ: dict[tuple[str, int, int, int], Meta | None] = {}
"""What :func:`_meta` last read or :func:`_build` wrote, by the file's path, inode, size
and mtime."""


def _version_key(db_path: Path, stat: os.stat_result) -> tuple[str, int, int, int]:
    return str(db_path), stat.st_ino, stat.st_size, stat.st_mtime_ns


def _remember(db_path: Path, meta: Meta | None, stat: os.stat_result | None = None) -> None:
    """Keep ``meta`` as what the file at ``db_path`` now says (only its latest version is
    ever asked for again)."""
    _READ.clear()
    _READ[_version_key(db_path, stat or db_path.stat())] = meta


def _read_meta(db_path: Path) -> Meta | None:
    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            row = con.execute(f"SELECT * FROM {INTERNAL}.paperlake_meta").fetchone()
            names = [column[0] for column in con.description or []]
    except duckdb.Error:
        return None
    if row is None:
        return None
    found = dict(zip(names, row, strict=True))
    return (
        int(found["snapshot_version"]),
        str(found["warehouse"]),
        found.get("layout"),
        found.get("sql"),
    )


def database_version(warehouse: Warehouse) -> int | None:
    """Lake snapshot the views were built for; None if missing, stale or unreadable."""
    return _built_version(warehouse, _meta(warehouse))


def _built_version(warehouse: Warehouse, meta: Meta | None) -> int | None:
    if meta is None or meta[1] != str(warehouse.root):
        return None  # built for another location: its absolute paths point elsewhere
    if meta[3] != sql_fingerprint():
        return None  # built from other SQL files (before an upgrade): rebuilt whole
    return meta[0]


def ensure_database(warehouse: Warehouse, snapshot: Snapshot | None = None) -> bool:
    """Rebuild the views if they do not match the current snapshot; True if rebuilt."""
    if warehouse.shared is not None:
        return False  # a shared lake is served from its catalog: see :func:`as_of_database`
    meta = _meta(warehouse)  # read once: each read opens the database (~20 ms)
    version = snapshot.version if snapshot else warehouse.current_version()
    if _built_version(warehouse, meta) == version:
        return False  # the files of every table are listed only to build (~0.13 s at 10y)
    _build(warehouse, snapshot or warehouse.current(), meta)
    return True
