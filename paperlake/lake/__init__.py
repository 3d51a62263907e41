"""The warehouse on disk: raw archive, DuckLake tables, lock.

Layout (everything below ``root``)::

    raw/<aa>/<sha256>.txt             every input's exact bytes, by content hash
    lake/catalog.ducklake             the DuckLake catalog (a DuckDB database): tables,
                                      snapshots, which Parquet files make up each snapshot
    lake/data/main/<table>/*.parquet  the data files, written and managed by DuckLake
    paperlake.duckdb                  views over the current snapshot (see paperlake.views)
    .lock                             held by the one run allowed to write

A run is one DuckLake transaction holding every batch and summary it writes, committed once
with the run id and rows per table as commit info: readers see the previous snapshot or the
next, never a mix.  Files a killed run wrote are in no snapshot; :meth:`Warehouse.recover`
deletes them (DuckLake's orphaned-file cleanup).  :meth:`Warehouse.maintain` compacts and
expires old snapshots after every run, so files and catalog stay bounded.

Storage concerns, one module each: ``layout`` (paths, extensions, errors), ``catalog``
(attach, session, transaction start), ``transaction``, ``snapshots`` (reads, history),
``raw`` (the archive), ``maintenance`` (compaction, expiry, recovery), ``lock``.
"""

from __future__ import annotations

from paperlake.lake.layout import (
    ARCHIVE_MODE,
    CATALOG,
    DATA,
    DB_NAME,
    LAKE,
    CatalogError,
    CommitConflict,
    CommitFailed,
    LockRefused,
    Shared,
    StorageUnavailable,
    WarehouseBusy,
)
from paperlake.lake.lock import Lock
from paperlake.lake.maintenance import Maintenance
from paperlake.lake.raw import RawArchive, atomic_write
from paperlake.lake.snapshots import HistoryEntry, Snapshot, Snapshots
from paperlake.lake.transaction import Rows, Transaction

# polars and the Pandera contracts are imported where a run needs them, never at import
# time: the read-only CLI commands open the views through this module and start in ~0.2 s.


class Warehouse(Maintenance, Snapshots, RawArchive, Lock):
    """A warehouse: its raw archive, its DuckLake tables and its lock."""


__all__ = [
    "ARCHIVE_MODE",
    "CATALOG",
    "DATA",
    "DB_NAME",
    "LAKE",
    "CatalogError",
    "CommitConflict",
    "CommitFailed",
    "HistoryEntry",
    "LockRefused",
    "Rows",
    "Shared",
    "Snapshot",
    "StorageUnavailable",
    "Transaction",
    "Warehouse",
    "WarehouseBusy",
    "atomic_write",
]
