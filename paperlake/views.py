"""Build ``paperlake.duckdb`` (views over one lake snapshot's Parquet files, defined by
``sql/``) and open it for users, read-only as DuckDB itself enforces it.

The database holds no data, only views, so it is rebuilt from scratch on every publish into
a temporary file and renamed over the old one.  A reader (DuckDB shell, dashboard) holding the
old file open keeps its consistent snapshot; the next connection sees the new version.  Part
files are named by absolute path, so the views work from any working directory and any
DuckDB client.

The ``main`` schema holds only the public views and macros (``sql/*.sql``), so a BI tool's
table list shows the interface; the lake views, staging views and build metadata live in the
``internal`` schema, and the SQL files name them ``internal.<name>``.  The file is written
in DuckDB's v1.0.0 storage format so every DuckDB 1.x client (CLI, Evidence, ...) opens it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from paperlake.lake import LAKE, Snapshot, Warehouse

if TYPE_CHECKING:
    import polars as pl

SQL_DIR = Path(__file__).resolve().parent / "sql"
"""``sql/staging/*.sql`` first (lake -> clean names), then ``sql/*.sql`` (the public views)."""
INTERNAL = "internal"
"""Schema of everything that is not the public interface: ``lake_*``, ``stg_*``, meta."""
STORAGE_VERSION = "v1.0.0"
"""Oldest DuckDB release whose storage format the serving database is written in."""
READ_STATEMENTS = frozenset({"SELECT"})
"""Statement types (as DuckDB's parser classifies them) that ``sql`` runs; ``SHOW``,
``DESCRIBE``, ``SUMMARIZE`` and ``PRAGMA show_tables`` parse as SELECT.  ``EXPLAIN`` is
allowed around one of these."""


class ViewError(RuntimeError):
    """A SQL file failed to create its view; the message names the file."""


def _duckdb_type(dtype: pl.DataType) -> str:
    import polars as pl  # not at import time: the read-only CLI commands import this module

    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    types = {
        pl.String: "VARCHAR",
        pl.Int32: "INTEGER",
        pl.Int64: "BIGINT",
        pl.Date: "DATE",
        pl.Boolean: "BOOLEAN",
        pl.Float64: "DOUBLE",
    }
    return types[dtype.base_type()]


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def lake_view_sql(warehouse: Warehouse, table: str, files: list[str]) -> str:
    """``lake_<table>``: every part file, plus a typed empty row set.

    ``UNION ALL BY NAME`` with the empty relation gives every declared column its type even
    when no file exists yet, or when older files predate a column (schema evolution).
    """
    from paperlake.schemas.tables import PUBLISHED, polars_schema

    schema = polars_schema(PUBLISHED[table])
    typed = ", ".join(f"NULL::{_duckdb_type(dtype)} AS {name}" for name, dtype in schema.items())
    columns = ", ".join(schema.names())
    empty = f"SELECT {typed} WHERE false"
    if not files:
        body = empty
    else:
        paths = ", ".join(_sql_str(path) for path in files)
        body = (
            f"{empty} UNION ALL BY NAME SELECT * FROM read_parquet([{paths}], union_by_name=true)"
        )
    return f"CREATE VIEW {INTERNAL}.lake_{table} AS SELECT {columns} FROM ({body})"


def sql_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted((sql_dir / "staging").glob("*.sql")) + sorted(sql_dir.glob("*.sql"))


_CREATE_VIEW = re.compile(r"^create or replace view (\w+)", re.IGNORECASE | re.MULTILINE)


def public_views(sql_dir: Path = SQL_DIR) -> list[str]:
    """Names of the public views defined in ``sql/*.sql`` (table macros are not views)."""
    return [
        name
        for path in sorted(sql_dir.glob("*.sql"))
        for name in _CREATE_VIEW.findall(path.read_text())
    ]


def _create_in_dependency_order(con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
    # A view can only be created after the views it reads, so retry the ones that failed
    # on a missing name until a pass makes no progress.
    pending = list(files)
    while pending:
        failed: list[tuple[Path, Exception]] = []
        for path in pending:
            try:
                con.execute(path.read_text())
            except duckdb.CatalogException as exc:
                failed.append((path, exc))
            except duckdb.Error as exc:
                raise ViewError(f"{path}: {exc}") from exc
        if len(failed) == len(pending):
            path, error = failed[0]
            raise ViewError(f"{path}: {error}")
        pending = [path for path, _ in failed]


def build_database(warehouse: Warehouse, snapshot: Snapshot, sql_dir: Path = SQL_DIR) -> Path:
    """Write a fresh ``paperlake.duckdb`` for ``snapshot`` and swap it into place."""
    tmp = warehouse.root / f".{warehouse.db_path.name}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        con.execute(f"CREATE SCHEMA {INTERNAL}")
        for table, files in snapshot.tables.items():
            con.execute(lake_view_sql(warehouse, table, files))
        _create_in_dependency_order(con, sql_files(sql_dir))
        con.execute(
            f"CREATE TABLE {INTERNAL}.paperlake_meta AS "
            "SELECT ? AS snapshot_version, ? AS warehouse, now() AS built_at",
            [snapshot.version, str(warehouse.root)],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, warehouse.db_path)
    return warehouse.db_path


def as_of_database(
    warehouse: Warehouse, as_of: str, writable_file: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """The same views in memory over an older snapshot (a number, or a timestamp), read
    through DuckLake time travel: older snapshots share compacted files, so only the
    catalog knows which of their rows belong to them."""
    from paperlake.schemas.tables import PUBLISHED, polars_schema

    at = f"VERSION => {int(as_of)}" if as_of.isdigit() else f"TIMESTAMP => {_sql_str(as_of)}"
    con = warehouse.connect(read_only=True)
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute(f"CREATE SCHEMA {INTERNAL}")
        for table, model in PUBLISHED.items():
            columns = ", ".join(polars_schema(model).names())
            source = f"{LAKE}.{table} AT ({at})"
            view = f"{INTERNAL}.lake_{table}"
            con.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM {source}")
            con.execute(f"SELECT * FROM {view} LIMIT 0")  # an unknown snapshot fails here
        _create_in_dependency_order(con, sql_files())
    except duckdb.Error:
        con.close()
        raise
    return lock_down(con, warehouse, writable_file)  # open_read_only's door, DuckLake loaded


def database_version(warehouse: Warehouse) -> int | None:
    """Lake snapshot the views were built for; None if missing, stale or unreadable."""
    if not warehouse.db_path.exists():
        return None
    try:
        with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
            row = con.execute(
                f"SELECT snapshot_version, warehouse FROM {INTERNAL}.paperlake_meta"
            ).fetchone()
    except duckdb.Error:
        return None
    if row is None or row[1] != str(warehouse.root):
        return None  # built for another location: its absolute paths point elsewhere
    return int(row[0])


def ensure_database(warehouse: Warehouse, snapshot: Snapshot | None = None) -> bool:
    """Rebuild the views if they do not match the current snapshot; True if rebuilt."""
    if warehouse.shared is not None:
        return False  # a shared lake is served from its catalog: see :func:`as_of_database`
    snapshot = snapshot or warehouse.current()
    if database_version(warehouse) == snapshot.version:
        return False
    build_database(warehouse, snapshot)
    return True


class QueryRefused(PermissionError):
    """A user query is not a single read statement."""


def open_read_only(root: Path, writable_file: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The one way a user (``sql``, ``report``, ``search``, ``quarantine``, dashboard) opens
    the warehouse: the database read-only, file access limited to reading the lake's data
    folder, no extensions installed or loaded, and the configuration locked so no statement
    can undo any of it.

    ``writable_file`` adds one exact path DuckDB may write (the temp file of
    ``sql --format parquet -o``).  DuckDB's allow-list does not tell reads from writes, so a
    COPY into the lake folder would pass it: user text must also go through
    :func:`read_statement`.
    """
    warehouse = Warehouse(root)
    con = duckdb.connect(str(warehouse.db_path), read_only=True, config=_NO_EXTENSIONS)
    return lock_down(con, warehouse, writable_file)


def lock_down(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, writable_file: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """Limit ``con`` to reading the lake folder (plus ``writable_file``), with no extension
    installed or loaded from now on, and lock the configuration; closes ``con`` on failure."""
    try:
        # Order matters: the allow-lists cannot change once external access is off.
        readable = warehouse.shared.lake if warehouse.shared else str(lake_folder(warehouse))
        con.execute(f"SET allowed_directories = [{_sql_str(readable + '/')}]")
        if writable_file is not None:
            con.execute(f"SET allowed_paths = [{_sql_str(str(writable_file))}]")
        for setting, value in _NO_EXTENSIONS.items():
            con.execute(f"SET {setting} = {str(value).lower()}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


_NO_EXTENSIONS: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
}


def lake_folder(warehouse: Warehouse) -> Path:
    """The folder holding every data file the views read."""
    return warehouse.root / "lake"


def read_statement(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """``query`` if it is exactly one read statement, else :class:`QueryRefused`.

    Classified by DuckDB's own parser, on the locked connection (parsing ``PRAGMA
    import_database`` already reads files).  ``EXPLAIN [ANALYZE]`` runs its statement, so
    the statement it wraps must be a read too.
    """
    statements = con.extract_statements(query)
    if len(statements) != 1:
        raise QueryRefused(
            f"paperlake sql is read-only and runs exactly one statement; got {len(statements)} "
            "(separate queries are separate commands)"
        )
    [statement] = statements
    kind = statement.type.name
    if kind == "EXPLAIN":
        inner = _EXPLAIN_PREFIX.sub("", statement.query, count=1)
        try:
            wrapped = con.extract_statements(inner) if inner != statement.query else []
        except duckdb.ParserException:
            wrapped = []  # EXPLAIN (options) ...: not recognised, so not run
        if len(wrapped) == 1 and wrapped[0].type.name in READ_STATEMENTS:
            return query
        raise QueryRefused("paperlake sql is read-only: EXPLAIN only of a SELECT statement")
    if kind not in READ_STATEMENTS:
        raise QueryRefused(
            f"paperlake sql is read-only: {kind} statements are refused "
            f"(allowed: {', '.join(sorted(READ_STATEMENTS))}, and EXPLAIN of one)"
        )
    return query


_EXPLAIN_PREFIX = re.compile(r"^\s*explain(\s+analyze)?\s", re.IGNORECASE)
