"""The warehouse's identity and paths, shared by the storage concerns that extend it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from paperlake.lake.layout import CATALOG, DATA, DB_NAME, Shared

if TYPE_CHECKING:
    from paperlake.lake.transaction import Transaction


class WarehouseBase:
    def __init__(self, root: Path, lake: str | None = None, catalog: str | None = None) -> None:
        self.root = root.resolve()
        """The working folder: lock, views and (local storage) the lake itself."""
        self.shared = Shared.from_settings(lake, catalog)
        """Shared storage, from the arguments or ``$PAPERLAKE_LAKE``/``$PAPERLAKE_CATALOG``."""
        self._deferring = False
        self._pending: dict[Path, Path] = {}
        """Archive files written inside :meth:`archiving`: final path -> temp path."""
        self._uploads: duckdb.DuckDBPyConnection | None = None
        """Shared storage: the bucket connection archive uploads reuse inside
        :meth:`archiving` (opening one, with httpfs and the S3 secret, cost ~150 ms each)."""
        self._con: duckdb.DuckDBPyConnection | None = None
        """The run's connection to the lake, open inside :meth:`session`."""
        self._run: Transaction | None = None
        """The run's transaction on it, once begun (:meth:`begin`)."""

    # ---- paths -------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG

    @property
    def data_path(self) -> Path:
        return self.root / DATA

    @property
    def location(self) -> str:
        """Where the lake is, for messages: the bucket, else the folder."""
        return self.shared.lake if self.shared else str(self.root)
