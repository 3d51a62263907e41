"""Opening the views for a user: the database read-only, file access limited to the lake's
data folder, no extensions, the configuration locked; and the check that a user's SQL is
exactly one read statement."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb

from paperlake.lake import Warehouse
from paperlake.lake.layout import sql_str

READ_STATEMENTS = frozenset({"SELECT"})
"""Statement types (as DuckDB's parser classifies them) that ``sql`` runs; ``SHOW``,
``DESCRIBE``, ``SUMMARIZE`` and ``PRAGMA show_tables`` parse as SELECT.  ``EXPLAIN`` is
allowed around one of these."""


DENIED_FUNCTIONS = frozenset(
    {
        "checkpoint",
        "force_checkpoint",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "enable_profiling",
        "disable_profiling",
        "read_duckdb",
        "query",
        "query_table",
        "json_execute_serialized_sql",
    }
)
"""Functions a user query may not call, though a SELECT may name them: they change settings
the lock leaves open (logging, profiling), write (checkpoint), run SQL built from a string
past :func:`read_statement`, or open a DuckDB file (holding its lock: the lake catalog).
Every ``ducklake_*`` function and every function of the attached lake (``lk.*``) is refused
too: some of them write or delete lake files before their catalog write fails.  So is every
function of the PostgreSQL extension a shared lake's catalog loads (``postgres_*``):
``postgres_execute`` ran any SQL on the catalog's server (``COMMIT; DELETE FROM
ducklake_data_file``), ``postgres_query`` and ``postgres_scan`` read its other databases and
its files."""
_DENIED_PREFIXES = ("ducklake_", "__ducklake", "postgres_", "read_postgres", "pg_clear_cache")


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
        con.execute(f"SET allowed_directories = [{sql_str(warehouse.data_location())}]")
        if writable_file is not None:
            con.execute(f"SET allowed_paths = [{sql_str(str(writable_file))}]")
        for setting in _NO_EXTENSIONS:
            con.execute(f"SET {setting} = false")
        if warehouse.shared is not None:  # only a shared lake's connection loads httpfs
            for (setting,) in con.execute(_CREDENTIAL_SETTINGS).fetchall():
                con.execute(f"SET {setting} = ''")
        for setting, value in READ_LIMITS.items():
            con.execute(f"SET {setting} = {sql_str(value)}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


READ_MEMORY_BYTES = min(4 << 30, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4)
"""DuckDB's memory limit for a user's queries: a quarter of the machine, 4 GiB at most
(DuckDB's default is 80%: one analyst's sort could starve a run).  Beyond it a query spills,
within :data:`READ_LIMITS`' temp size."""
READ_LIMITS = {
    "memory_limit": f"{READ_MEMORY_BYTES // (1 << 20)}MiB",
    "max_temp_directory_size": "4GiB",
}
"""Settings :func:`lock_down` gives every user connection before locking them."""

_NO_EXTENSIONS = (
    "autoinstall_known_extensions",
    "autoload_known_extensions",
    "allow_community_extensions",
    "allow_unsigned_extensions",
)
"""Settings :func:`lock_down` turns off: no extension installed or loaded from then on."""


_CREDENTIAL_SETTINGS = (
    "SELECT name FROM duckdb_settings() WHERE name IN "
    "('s3_access_key_id', 's3_secret_access_key', 's3_session_token') AND value <> ''"
)
"""The S3 credentials httpfs copies from the ``AWS_*`` variables into settings, which
``current_setting`` would show a user (``duckdb_secrets()`` redacts them): :func:`lock_down`
blanks them.  The lake is read through its secret (``layout.s3_secret_sql``), which holds
them."""


def private_spill() -> str:
    """A folder of its own, in the system's temporary folder, for what an in-memory user
    connection (``--as-of``, shared storage) spills: DuckDB's default is ``.tmp`` in the
    working directory.  DuckDB creates it when it first spills and deletes it at close."""
    return str(Path(tempfile.gettempdir()) / f"paperlake-spill-{os.getpid()}-{uuid.uuid4().hex}")


def read_statement(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """``query`` if it is exactly one read statement, else :class:`QueryRefused`.

    Classified by DuckDB's own parser, on the locked connection (parsing ``PRAGMA
    import_database`` already reads files).  ``EXPLAIN [ANALYZE]`` runs its statement, so
    the statement it wraps must be a read too.
    """
    statements = con.extract_statements(query)
    if not statements:
        raise QueryRefused("the query is empty (nothing but spaces or comments): nothing to run")
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
            _refuse_functions(con, wrapped[0].query)
            return query
        raise QueryRefused("paperlake sql is read-only: EXPLAIN only of a SELECT statement")
    if kind not in READ_STATEMENTS:
        raise QueryRefused(
            f"paperlake sql is read-only: {kind} statements are refused "
            f"(allowed: {', '.join(sorted(READ_STATEMENTS))}, and EXPLAIN of one)"
        )
    _refuse_functions(con, statement.query)
    return query


def _refuse_functions(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """:class:`QueryRefused` if the read statement ``query`` calls a function of
    :data:`DENIED_FUNCTIONS`, a ``ducklake_*`` or ``postgres_*`` one or one of the lake's
    (``lk.*``).

    The functions are read from DuckDB's own parse tree (``json_serialize_sql``), so a name
    inside a string literal is not a call.  A statement it cannot serialize (a ``PRAGMA``
    that reads as a SELECT) is refused if a denied name appears in it at all."""
    from paperlake.lake import LAKE

    # A literal, not a parameter: binding one makes DuckDB import pandas (~0.3 s).
    [(tree,)] = con.execute(f"SELECT json_serialize_sql({sql_str(query)})").fetchall()
    parsed = json.loads(tree)
    if parsed.get("error"):
        words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query)
        calls = [("", "", word) for word in words]
    else:
        calls = list(_calls(parsed))
    for catalog, schema, name in calls:
        parts = [part.lower() for part in (catalog, schema, name)]  # names match in any case
        if (
            parts[2] in DENIED_FUNCTIONS
            or LAKE in parts[:2]
            or any(part.startswith(_DENIED_PREFIXES) for part in parts)
        ):
            qualified = ".".join(part for part in (catalog, schema, name) if part)
            raise QueryRefused(
                f"paperlake sql is read-only: {qualified}() is refused (it writes, changes "
                "settings, runs SQL from a string, or reaches the lake's own files or its "
                "catalog's server)"
            )


def _calls(tree: object) -> Iterator[tuple[str, str, str]]:
    """(catalog, schema, name) of every function call in a ``json_serialize_sql`` tree."""
    if isinstance(tree, dict):
        if isinstance(tree.get("function_name"), str):
            yield tree.get("catalog") or "", tree.get("schema") or "", tree["function_name"]
        for value in tree.values():
            yield from _calls(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _calls(value)


_EXPLAIN_PREFIX = re.compile(r"^\s*explain(\s+analyze)?\s", re.IGNORECASE)
