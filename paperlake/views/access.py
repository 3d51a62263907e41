"""Opening the views for a user: the database read-only, file access limited to the lake's
data folder, no extensions, the configuration locked; and the check that a user's SQL is
exactly one read statement."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

from paperlake.lake import Warehouse
from paperlake.lake.layout import sql_str

READ_STATEMENTS = frozenset({"SELECT"})
"""Statement types (as DuckDB's parser classifies them) that ``sql`` runs; ``SHOW``,
``DESCRIBE``, ``SUMMARIZE`` and ``PRAGMA show_tables`` parse as SELECT.  ``EXPLAIN`` is
allowed around one of these."""


class QueryRefused(PermissionError):
    """A user query is not a single read statement."""


def open_read_only(
    root: Path, writable_file: Path | None = None, settings: Mapping[str, int | bool] | None = None
) -> duckdb.DuckDBPyConnection:
    """The one way a user (``sql``, ``report``, ``search``, ``quarantine``, dashboard) opens
    the warehouse: the database read-only, file access limited to reading the lake's data
    folder, no extensions installed or loaded, and the configuration locked so no statement
    can undo any of it.

    ``writable_file`` adds one exact path DuckDB may write (the temp file of
    ``sql --format parquet -o``).  DuckDB's allow-list does not tell reads from writes, so a
    COPY into the lake folder would pass it: user text must also go through
    :func:`read_statement`.  ``settings`` (DuckDB setting -> value, from code, never from a
    user) are set for the whole database, so every cursor of ``con`` has them too, before
    the configuration is locked.
    """
    warehouse = Warehouse(root)
    con = duckdb.connect(str(warehouse.db_path), read_only=True)
    try:
        for name, value in (settings or {}).items():
            literal = str(value).lower() if isinstance(value, bool) else str(int(value))
            con.execute(f"SET GLOBAL {name} = {literal}")
    except BaseException:
        con.close()
        raise
    return lock_down(con, warehouse, writable_file)


def lock_down(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, writable_file: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """Limit ``con`` to reading the lake folder (plus ``writable_file``), with no extension
    installed or loaded from now on, and lock the configuration; closes ``con`` on failure."""
    try:
        # Order matters: the allow-lists cannot change once external access is off.
        readable = warehouse.shared.lake if warehouse.shared else str(lake_folder(warehouse))
        con.execute(f"SET allowed_directories = [{sql_str(readable + '/')}]")
        if writable_file is not None:
            con.execute(f"SET allowed_paths = [{sql_str(str(writable_file))}]")
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
