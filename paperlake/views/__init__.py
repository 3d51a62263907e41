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

The package, by concern: ``files`` (the SQL files and their order), ``build`` (the
database, its staging views, time travel), ``access`` (the read-only, locked-down door and
the one-read-statement check).
"""

from paperlake.views.access import (
    READ_MEMORY_BYTES,
    QueryRefused,
    open_read_only,
    read_statement,
)
from paperlake.views.build import (
    INTERNAL,
    UnknownSnapshot,
    as_of_database,
    build_database,
    create_sql_views,
    create_staging_views,
    database_version,
    ensure_database,
    files_source,
    staging_name,
)
from paperlake.views.files import (
    SQL_DIR,
    ViewError,
    build_order,
    public_views,
    relations,
    sql_files,
)

__all__ = [
    "INTERNAL",
    "READ_MEMORY_BYTES",
    "SQL_DIR",
    "QueryRefused",
    "UnknownSnapshot",
    "ViewError",
    "as_of_database",
    "build_database",
    "build_order",
    "create_sql_views",
    "create_staging_views",
    "database_version",
    "ensure_database",
    "files_source",
    "open_read_only",
    "public_views",
    "read_statement",
    "relations",
    "sql_files",
    "staging_name",
]
