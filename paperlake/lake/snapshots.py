"""What the lake holds: tables at the current snapshot, their files, the history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from paperlake.lake.catalog import ATTACH_WAIT_SECONDS, Catalog
from paperlake.lake.layout import LAKE, METADATA, CatalogError
from paperlake.lake.transaction import read_relation

if TYPE_CHECKING:
    import polars as pl

_REWRITE = f"CALL ducklake_rewrite_data_files('{LAKE}', ?, delete_threshold => 0)"
"""Rewrite a table's files that have deleted rows (any share), so none has a delete file."""

_LISTING = f"""
SELECT
    t.table_name,
    CASE WHEN NOT f.path_is_relative THEN f.path
        WHEN NOT t.path_is_relative THEN t.path || f.path
        WHEN NOT s.path_is_relative THEN s.path || t.path || f.path
        ELSE $1 || s.path || t.path || f.path
    END,
    EXISTS (
        SELECT 1 FROM {METADATA}.ducklake_delete_file AS d
        WHERE d.data_file_id = f.data_file_id AND d.end_snapshot IS NULL
    )
FROM {METADATA}.ducklake_table AS t
JOIN {METADATA}.ducklake_schema AS s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
LEFT JOIN {METADATA}.ducklake_data_file AS f
    ON f.table_id = t.table_id AND f.end_snapshot IS NULL
WHERE t.end_snapshot IS NULL AND ($2 IS NULL OR t.table_name = $2)
ORDER BY t.table_name
"""
"""Every current table's current data files (a table without any: one row, path NULL)."""


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


class Snapshots(Catalog):
    def scan(self, table: str) -> pl.LazyFrame:
        """The table at the current snapshot, as one lazy frame over its data files (so
        only the columns and rows a query needs are read)."""
        import polars as pl

        from paperlake.schemas.tables import PUBLISHED, polars_schema

        with self._connection() as con:
            if self.shared is not None:  # read through DuckDB, which holds the S3 secret
                return read_relation(con, f"{LAKE}.{table}", table)
            files = self._files(con, table, self._listing(con, table)[table])
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
            listed = self._listing(con)
            tables = {name: self._files(con, name, rows) for name, rows in listed.items()}
            version = con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()
        assert version is not None
        return Snapshot(int(version[0]), tables)

    def current_version(self, wait_seconds: float = ATTACH_WAIT_SECONDS) -> int:
        """The current snapshot's id, read cheaply (no file listing); ``wait_seconds``: how
        long to wait for a catalog another process holds."""
        with self._connection(wait_seconds) as con:
            version = con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()
        assert version is not None
        return int(version[0])

    def _listing(
        self, con: duckdb.DuckDBPyConnection, table: str | None = None
    ) -> dict[str, list[tuple[str, bool]]]:
        """Table -> (absolute path, has deleted rows) of each of its data files at the
        current snapshot; every table, or only ``table``.

        Read from the catalog's own tables in one statement (``ducklake_list_files``, once
        per table, cost a daily run ~0.04 s of CPU): a path relative to its table's, the
        table's to its schema's and the schema's to the data path, as DuckLake's
        specification defines them (``tests/test_lake.py`` checks the two agree)."""
        rows = con.execute(_LISTING, [self.data_location(), table]).fetchall()
        listed: dict[str, list[tuple[str, bool]]] = {}
        for name, path, deleted in rows:
            files = listed.setdefault(name, [])
            if path is not None:
                files.append((path, deleted))
        return listed

    def _files(
        self, con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[str, bool]]
    ) -> list[str]:
        """The table's data files, given its (path, has deleted rows) ``rows``."""
        if any(deleted for _, deleted in rows):
            if con is not self._con:
                raise CatalogError(
                    f"table {table} has deleted rows not yet rewritten: run `paperlake maintain`"
                )
            con.execute(_REWRITE, [table])
            rows = self._listing(con, table)[table]
        return sorted(path for path, _ in rows)

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
