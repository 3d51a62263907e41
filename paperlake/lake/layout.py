"""Where the lake's parts are, how DuckDB reaches them, and the errors storage raises."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import duckdb_extension_ducklake
import duckdb_extension_httpfs
import duckdb_extension_postgres_scanner

DB_NAME = "paperlake.duckdb"
CATALOG = "lake/catalog.ducklake"
DATA = "lake/data"
OPENED_AT = "lake/.opened-at-snapshot"
"""The lake's current snapshot when the process that holds the catalog now opened it (each
:meth:`~paperlake.lake.catalog.Catalog.session` writes it): a reader that finds the catalog
held answers from views of that snapshot, and waits for the holder otherwise."""
LAKE = "lk"
"""Name the lake is attached under in every connection."""
METADATA = f"__ducklake_metadata_{LAKE}"
"""Where DuckLake attaches the catalog's own tables (snapshots, files, partitions)."""
CLAIM = "writer_claim"
"""Shared storage only: a one-row table every run updates, so that two runs at once always
conflict at commit and the later one runs again.  DuckLake lets concurrent inserts into a
table both commit, and a new page date's summary rows are only appended (its replace deletes
no row), so without the claim two runs could both add the same date's summary rows."""
ARCHIVE_MODE = 0o640
"""Archived dumps: readable by the owner's group, never world-readable."""


def _extension(module: object, name: str) -> Path:
    folder = Path(str(getattr(module, "__file__", ""))).parent
    return next(folder.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))


DUCKLAKE = _extension(duckdb_extension_ducklake, "ducklake")
HTTPFS = _extension(duckdb_extension_httpfs, "httpfs")
SHARED_EXTENSIONS = (HTTPFS, _extension(duckdb_extension_postgres_scanner, "postgres_scanner"))
"""Loaded by file path (autoinstall cannot reach the network) only for shared storage."""


def connect_with(*extensions: Path) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with ``extensions`` (of :data:`DUCKLAKE`,
    :data:`HTTPFS`, :data:`SHARED_EXTENSIONS`) loaded, and no other unsigned one loadable.

    DuckDB checks an extension's signature by hashing the whole file on every ``LOAD``: the
    36 MB DuckLake extension cost every run and every command that attaches the lake 0.15 s
    of CPU.  These files are the pinned wheels' own (``uv.lock`` holds their hashes, checked
    at install), loaded by absolute path, never a name a user gave; so they load with the
    check off, which is switched back on before the connection is returned."""
    con = duckdb.connect(config={"allow_unsigned_extensions": True})
    try:
        for extension in extensions:
            con.execute(f"LOAD {sql_str(str(extension))}")
        con.execute("SET allow_unsigned_extensions = false")
    except BaseException:
        con.close()
        raise
    return con


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
            options.append(f"{option} {sql_str(os.environ[variable])}")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options.append(f"REGION {sql_str(region)}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.append(f"ENDPOINT {sql_str(host.rstrip('/'))}")
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


class CommitFailed(RuntimeError):
    """A run's COMMIT failed for a reason no new attempt changes; nothing was published."""


class StorageUnavailable(CatalogError):
    """The bucket or the catalog server of a shared lake failed during a run."""


class LockRefused(RuntimeError):
    """The lock file cannot be used: a symlink (refused, so its target is never written), or
    a warehouse that cannot be written (a read-only file system)."""


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
