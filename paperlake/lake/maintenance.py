"""Keeping the lake bounded and clean: compaction, expiry, a killed run's leftovers."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from paperlake.config import DEFAULT_RETENTION_DAYS
from paperlake.lake.catalog import Catalog
from paperlake.lake.layout import LAKE, METADATA
from paperlake.lake.transaction import SPILL, one_thread

ORPHAN_GRACE = "1 day"
"""On shared storage another machine's run may be writing files no snapshot lists yet, so
only files unlisted for this long are deleted as a killed run's leftovers."""


SMALL_FILE_BYTES = 1024 * 1024
"""Only data files smaller than this are merged: a daily run never rewrites the big files a
backfill wrote (merging into them rewrote a 10-year lake's 75 MB papers file every day), and
a backfill leaves the files its chunks wrote (``BATCH_BYTES`` of input each: 1-4 MB for
the big tables) as they are instead of writing its largest tables a second time (merging
them after a 10-year backfill cost ~2.5 s of CPU, as much as writing them).  Its smaller
tables come in files near 1 MB or more too (:data:`paperlake.publish.HOLD_BYTES`): after a
10-year backfill there is nothing to merge (0.55 s of maintenance, now 0.013)."""
MERGE_AFTER_FILES = 8
"""Small files are merged once some table has this many: most daily runs merge nothing, and
a merge rewrites at most about ``MERGE_AFTER_FILES`` days of rows per table."""


class Maintenance(Catalog):
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
            with one_thread(self._con):
                self._maintain(self._con, retention_days)
        except duckdb.TransactionException:
            if self.shared is None:
                raise
            # Another machine committed meanwhile; the run is published, the next run
            # compacts.

    def _maintain(self, con: duckdb.DuckDBPyConnection, retention_days: float) -> None:
        started = con.execute("SELECT now()").fetchone()
        assert started is not None
        if self._has_deleted_rows(con):
            con.execute(f"CALL ducklake_rewrite_data_files('{LAKE}', delete_threshold => 0)")
        if self._small_files(con) >= MERGE_AFTER_FILES:
            con.execute(
                f"CALL ducklake_merge_adjacent_files('{LAKE}', max_file_size => ?)",
                [SMALL_FILE_BYTES],
            )
        con.execute(
            f"CALL ducklake_expire_snapshots('{LAKE}', older_than => now() - ?::INTERVAL)",
            [f"{retention_days * 86400:.0f} seconds"],
        )
        con.execute(f"CALL ducklake_cleanup_old_files('{LAKE}', older_than => ?)", [started[0]])

    @staticmethod
    def _has_deleted_rows(con: duckdb.DuckDBPyConnection) -> bool:
        """Whether a current data file has deleted rows (a live delete file).

        Asked of the catalog first because ``ducklake_rewrite_data_files`` costs ~0.1 s of
        CPU on a 10-year lake even when it has nothing to rewrite, and a daily run's commit
        only appends: skipping it cut a new day's maintenance from 0.15 to 0.013 s of CPU
        (``bench.worker profile_day``, 10 years, median of 3)."""
        row = con.execute(
            f"SELECT EXISTS (SELECT 1 FROM {METADATA}.ducklake_delete_file "
            "WHERE end_snapshot IS NULL)"
        ).fetchone()
        assert row is not None
        return bool(row[0])

    @staticmethod
    def _small_files(con: duckdb.DuckDBPyConnection) -> int:
        """The most live data files under :data:`SMALL_FILE_BYTES` that one table (or one
        partition of it: files merge only within theirs) has."""
        row = con.execute(
            f"SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n "
            f"FROM {METADATA}.ducklake_data_file AS f "
            f"LEFT JOIN {METADATA}.ducklake_file_partition_value AS v USING (data_file_id) "
            "WHERE f.end_snapshot IS NULL AND f.file_size_bytes < ? "
            "GROUP BY f.table_id, v.partition_value)",
            [SMALL_FILE_BYTES],
        ).fetchone()
        assert row is not None
        return int(row[0])

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
        # and of the lake folder's note (OPENED_AT)
        for pattern in ("raw/**/.*.tmp-*", ".*.tmp-*", "lake/.*.tmp-*"):
            for path in self.root.glob(pattern):
                path.unlink()
                removed.append(path.relative_to(self.root).as_posix())
        spill = self.root / SPILL  # what a killed run's queries spilled
        if spill.is_dir():
            shutil.rmtree(spill)
            removed.append(SPILL)
        return sorted(removed)
