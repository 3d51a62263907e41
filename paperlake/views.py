"""Build ``paperlake.duckdb``: views over one manifest's Parquet files, defined by ``sql/``.

The database holds no data, only views, so it is rebuilt from scratch on every publish into
a temporary file and renamed over the old one.  A reader (DuckDB shell, dashboard) holding the
old file open keeps its consistent snapshot; the next connection sees the new version.  Part
files are named by absolute path, so the views work from any working directory and any
DuckDB client.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from paperlake.lake import Manifest, Warehouse

if TYPE_CHECKING:
    import polars as pl

SQL_DIR = Path(__file__).resolve().parent / "sql"
"""``sql/staging/*.sql`` first (lake -> clean names), then ``sql/*.sql`` (the public views)."""


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
        paths = ", ".join(_sql_str(str(warehouse.root / rel)) for rel in files)
        body = (
            f"{empty} UNION ALL BY NAME SELECT * FROM read_parquet([{paths}], union_by_name=true)"
        )
    return f"CREATE VIEW lake_{table} AS SELECT {columns} FROM ({body})"


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


def build_database(warehouse: Warehouse, manifest: Manifest, sql_dir: Path = SQL_DIR) -> Path:
    """Write a fresh ``paperlake.duckdb`` for ``manifest`` and swap it into place."""
    tmp = warehouse.root / f".{warehouse.db_path.name}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for table, files in manifest.tables.items():
            con.execute(lake_view_sql(warehouse, table, files))
        _create_in_dependency_order(con, sql_files(sql_dir))
        con.execute(
            "CREATE TABLE paperlake_meta AS SELECT ? AS manifest_version, ? AS warehouse, "
            "now() AS built_at",
            [manifest.version, str(warehouse.root)],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, warehouse.db_path)
    return warehouse.db_path


def database_version(warehouse: Warehouse) -> int | None:
    """Manifest version the views were built for; None if missing, stale or unreadable."""
    if not warehouse.db_path.exists():
        return None
    try:
        with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
            row = con.execute("SELECT manifest_version, warehouse FROM paperlake_meta").fetchone()
    except duckdb.Error:
        return None
    if row is None or row[1] != str(warehouse.root):
        return None  # built for another location: its absolute paths point elsewhere
    return int(row[0])


def ensure_database(warehouse: Warehouse, manifest: Manifest | None = None) -> bool:
    """Rebuild the views if they do not match the current manifest; True if rebuilt."""
    manifest = manifest or warehouse.current()
    if database_version(warehouse) == manifest.version:
        return False
    build_database(warehouse, manifest)
    return True
