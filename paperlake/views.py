"""Build ``paperlake.duckdb`` (views over one lake snapshot's Parquet files, defined by
``sql/``) and open it for users, read-only as DuckDB itself enforces it.

The database holds no data, only views, so it is rebuilt from scratch on every publish into
a temporary file and renamed over the old one.  A reader (DuckDB shell, dashboard) holding the
old file open keeps its consistent snapshot; the next connection sees the new version.  Part
files are named by absolute path, so the views work from any working directory and any
DuckDB client.

The ``main`` schema holds only the public views and macros (``sql/*.sql``), so a BI tool's
table list shows the interface; the staging views and build metadata live in the
``internal`` schema, and the SQL files name them ``internal.<name>``.  Staging is one view
per lake table, generated from its Pandera model (``stg_<table>``), plus the hand-written
``sql/staging/*.sql`` that compute something.  Files are created in the order their
``from``/``join`` references require (:func:`build_order`).  Views are unordered: a caller
that shows rows in an order says which.  The file is written
in DuckDB's v1.0.0 storage format so every DuckDB 1.x client (CLI, Evidence, ...) opens it.
"""

from __future__ import annotations

import os
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from paperlake.lake import LAKE, Snapshot, Warehouse

if TYPE_CHECKING:
    import polars as pl

SQL_DIR = Path(__file__).resolve().parent / "sql"
"""``sql/staging/*.sql`` (internal views that compute), ``sql/*.sql`` (the public views)."""
INTERNAL = "internal"
"""Schema of everything that is not the public interface: ``stg_*`` views, meta."""
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


def staging_view_sql(table: str, source: str) -> str:
    """``internal.stg_<table>``: the lake table ``source`` with exactly its model's columns.

    The Pandera model is the one list of a table's columns; the views read these staging
    views, never the lake directly, so the two ways of reaching the lake (the snapshot's
    files, DuckLake time travel) serve the same columns.
    """
    from paperlake.schemas.tables import PUBLISHED, polars_schema

    columns = ", ".join(polars_schema(PUBLISHED[table]).names())
    return f"CREATE VIEW {INTERNAL}.{staging_name(table)} AS SELECT {columns} FROM {source}"


def staging_name(table: str) -> str:
    return f"stg_{table}"


def files_source(table: str, files: list[str]) -> str:
    """The relation of a table's part files, plus a typed empty row set.

    ``UNION ALL BY NAME`` with the empty relation gives every declared column its type even
    when no file exists yet, or when older files predate a column (schema evolution).
    """
    from paperlake.schemas.tables import PUBLISHED, polars_schema

    schema = polars_schema(PUBLISHED[table])
    typed = ", ".join(f"NULL::{_duckdb_type(dtype)} AS {name}" for name, dtype in schema.items())
    empty = f"SELECT {typed} WHERE false"
    if not files:
        return f"({empty})"
    paths = ", ".join(_sql_str(path) for path in files)
    return f"({empty} UNION ALL BY NAME SELECT * FROM read_parquet([{paths}], union_by_name=true))"


def sql_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The hand-written views and macros: ``sql/staging/*.sql`` and ``sql/*.sql``."""
    return sorted((sql_dir / "staging").glob("*.sql")) + sorted(sql_dir.glob("*.sql"))


def public_views(sql_dir: Path = SQL_DIR) -> list[str]:
    """Names of the public views defined in ``sql/*.sql`` (table macros are not views)."""
    return [
        name
        for path in sorted(sql_dir.glob("*.sql"))
        for kind, name in _DEFINES.findall(_code(path.read_text()))
        if kind.lower() == "view"
    ]


_COMMENT_OR_STRING = re.compile(r"--[^\n]*|'(?:[^']|'')*'")
_DEFINES = re.compile(r"\bcreate\s+or\s+replace\s+(view|macro)\s+(?:\w+\.)?(\w+)", re.I)
_READS = re.compile(r"\b(?:from|join)\s+(?:\w+\.)?(\w+)", re.I)
_CTE = re.compile(r"(?:\bwith|,)\s*(\w+)\s+as\s*\(", re.I)


def _code(sql: str) -> str:
    """``sql`` without its comments and string literals."""
    return _COMMENT_OR_STRING.sub(" ", sql)


def relations(sql: str) -> tuple[set[str], set[str]]:
    """(names ``sql`` creates, relations it reads with ``from``/``join``), schema dropped;
    its own CTEs are not relations it reads.  Comments and string literals are ignored."""
    code = _code(sql)
    defines = {name for _, name in _DEFINES.findall(code)}
    return defines, set(_READS.findall(code)) - set(_CTE.findall(code)) - defines


def build_order(files: list[Path], provided: set[str]) -> list[Path]:
    """``files`` ordered so each comes after the files defining what it reads.

    ``provided`` names exist before any file runs (the generated staging views).  A name
    defined twice, or files reading each other in a cycle, is a :class:`ViewError`; a
    relation nobody defines is left to DuckDB, whose error (wrapped with the file's path
    by :func:`create_sql_views`) names it.
    """
    definer: dict[str, Path] = {}
    reads: dict[Path, set[str]] = {}
    for path in files:
        defines, reads[path] = relations(path.read_text())
        for name in defines:
            if name in provided or name in definer:
                other = "a generated staging view" if name in provided else definer[name]
                raise ViewError(f"{path}: defines {name}, already defined by {other}")
            definer[name] = path
    graph = {
        path: {definer[name] for name in names if name in definer} for path, names in reads.items()
    }
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        loop = " -> ".join(str(path) for path in cycle.args[1])
        raise ViewError(f"the views read each other in a cycle: {loop}") from None


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
        try:
            con.execute(path.read_text())
        except duckdb.Error as exc:
            raise ViewError(f"{path}: {exc}") from exc


def build_database(warehouse: Warehouse, snapshot: Snapshot, sql_dir: Path = SQL_DIR) -> Path:
    """Write a fresh ``paperlake.duckdb`` for ``snapshot`` and swap it into place."""
    tmp = warehouse.root / f".{warehouse.db_path.name}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        sources = {table: files_source(table, files) for table, files in snapshot.tables.items()}
        create_staging_views(con, sources)
        create_sql_views(con, sql_dir)
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
    from paperlake.schemas.tables import PUBLISHED

    at = f"VERSION => {int(as_of)}" if as_of.isdigit() else f"TIMESTAMP => {_sql_str(as_of)}"
    con = warehouse.connect(read_only=True)
    con.execute("SET enable_progress_bar = false")
    try:
        create_staging_views(con, {table: f"{LAKE}.{table} AT ({at})" for table in PUBLISHED})
        for table in PUBLISHED:  # an unknown snapshot fails here, before the views
            con.execute(f"SELECT * FROM {INTERNAL}.{staging_name(table)} LIMIT 0")
        create_sql_views(con)
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
    con = duckdb.connect(str(warehouse.db_path), read_only=True)
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
        for setting in _NO_EXTENSIONS:
            con.execute(f"SET {setting} = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


_NO_EXTENSIONS = (
    "autoinstall_known_extensions",
    "autoload_known_extensions",
    "allow_community_extensions",
    "allow_unsigned_extensions",
)
"""Settings :func:`lock_down` turns off: no extension installed or loaded from then on."""


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
