"""The warehouse on disk: raw archive, immutable Parquet parts, manifests, lock.

Layout (everything below ``root``)::

    raw/<aa>/<sha256>.txt          every input's exact bytes, by content hash
    lake/<table>/<run>-<n>.parquet immutable data files, never edited in place
    lake/<table>/<col>=<value>/... the same, for a table partitioned by a column
    _manifests/<version>.json      which files make up each table at that version
    _manifests/CURRENT             name of the current manifest (the pointer)
    paperlake.duckdb               views over the current manifest (see paperlake.views)
    .lock                          held by the one run allowed to write

A publish writes new part files, then a new manifest, then swaps ``CURRENT`` with an atomic
rename: readers see the old version or the new one, never half of one.  Files that no
manifest names (a crashed run's leftovers) are invisible and removed by :meth:`recover`.
The same protocol works on object storage (conditional put of the pointer).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

if TYPE_CHECKING:
    import polars as pl

# polars and the Pandera contracts are imported where a run needs them, never at import
# time: the read-only CLI commands open the views through this module and start in ~0.2 s.

DB_NAME = "paperlake.duckdb"
ARCHIVE_MODE = 0o640
"""Archived dumps: readable by the owner's group, never world-readable."""
_SYNC_THREADS = 8


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse lock."""


class LockRefused(RuntimeError):
    """The lock file is a symlink: refused, so the link's target is never written."""


@dataclass(frozen=True, slots=True)
class Manifest:
    version: int
    tables: dict[str, list[str]]
    """Table name -> part files, relative to the warehouse root."""
    created_at: str = ""
    run_id: str = ""
    stats: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "created_at": self.created_at,
                "run_id": self.run_id,
                "tables": self.tables,
                "stats": self.stats,
            },
            indent=1,
            sort_keys=True,
        )


def _fsync(path: Path) -> None:
    """fsync a file or a folder (a folder's entries: names created or renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` so that it holds either its old content or all of ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # after a failed write or rename; gone after a rename
    _fsync(path.parent)


class Warehouse:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._deferring = False
        self._pending: dict[Path, Path] = {}
        """Archive files written inside :meth:`archiving`: final path -> temp path."""

    # ---- paths -------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def manifests(self) -> Path:
        return self.root / "_manifests"

    def raw_relpath(self, dump_id: str) -> str:
        return f"raw/{dump_id[:2]}/{dump_id}.txt"

    # ---- raw archive -------------------------------------------------------------------
    def archive(self, data: bytes) -> tuple[str, str]:
        """Keep ``data`` under its sha256; return (dump_id, path relative to root).

        Content-addressed, so archiving the same bytes twice is a no-op, and landing file
        names never decide where anything is written.  Inside :meth:`archiving` the file
        is only in place (and durable) when that block ends.
        """
        dump_id = hashlib.sha256(data).hexdigest()
        rel = self.raw_relpath(dump_id)
        target = self.root / rel
        if target.exists() or target in self._pending:
            return dump_id, rel
        if self._deferring:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            tmp.write_bytes(data)
            tmp.chmod(ARCHIVE_MODE)
            self._pending[target] = tmp
        else:
            atomic_write(target, data, ARCHIVE_MODE)
        return dump_id, rel

    @contextmanager
    def archiving(self) -> Iterator[None]:
        """Archive many files and make them durable together when the block ends.

        Two fsyncs per file (file and folder) cost ~1 ms each, in series; here every file
        is written first, then all are fsynced at once from a thread pool (the disk works
        on them in parallel), renamed into place, and each folder is fsynced once.  A file
        is never in place before its bytes are durable, so a crash leaves only temp files,
        which :meth:`recover` removes.
        """
        self._deferring = True
        try:
            yield
            with ThreadPoolExecutor(_SYNC_THREADS) as pool:
                list(pool.map(_fsync, self._pending.values()))
                for target, tmp in self._pending.items():
                    os.replace(tmp, target)
                list(pool.map(_fsync, {target.parent for target in self._pending}))
        except BaseException:
            for tmp in self._pending.values():
                tmp.unlink(missing_ok=True)
            raise
        finally:
            self._deferring = False
            self._pending = {}

    # ---- manifests ---------------------------------------------------------------------
    def _current_document(self) -> dict[str, Any] | None:
        pointer = self.manifests / "CURRENT"
        if not pointer.exists():
            return None
        document: dict[str, Any] = json.loads(
            (self.manifests / pointer.read_text().strip()).read_text()
        )
        return document

    def current_version(self) -> int:
        """The current manifest's version (0 before the first publish), read cheaply."""
        document = self._current_document()
        return 0 if document is None else int(document["version"])

    def current(self) -> Manifest:
        from paperlake.schemas.tables import PUBLISHED

        document = self._current_document()
        if document is None:
            return Manifest(0, {name: [] for name in PUBLISHED})
        tables = {name: document["tables"].get(name, []) for name in PUBLISHED}
        return Manifest(
            document["version"],
            tables,
            document["created_at"],
            document["run_id"],
            document.get("stats", {}),
        )

    def scan(self, table: str, manifest: Manifest | None = None) -> pl.LazyFrame:
        """The table at ``manifest`` (default: current) as one lazy frame."""
        return self.scan_files(table, (manifest or self.current()).tables[table])

    def scan_files(self, table: str, files: list[str]) -> pl.LazyFrame:
        """Part ``files`` (relative to the root) of ``table`` as one lazy frame."""
        import polars as pl

        from paperlake.schemas.tables import PUBLISHED, polars_schema

        if not files:
            return pl.LazyFrame(schema=polars_schema(PUBLISHED[table]))
        # Parts written before a column existed read it as null (schema evolution).
        return pl.scan_parquet(
            [str(self.root / f) for f in files],
            schema=polars_schema(PUBLISHED[table]),
            missing_columns="insert",
            extra_columns="ignore",
        )

    def stage(
        self,
        frames: dict[str, pl.DataFrame],
        run_id: str,
        base: Manifest,
        replace: frozenset[str] = frozenset(),
    ) -> Manifest:
        """Write ``frames`` as new immutable part files; return the manifest naming them.

        Nothing is visible until :meth:`publish`.  Tables in ``replace`` are rewritten whole
        (copy-on-write: the new part replaces every old one); a partitioned table (see
        ``PARTITIONED``) has each partition in ``frames`` replaced; the rest are appended to.
        A run stages each batch on the previous batch's manifest and publishes once, so a
        killed run leaves the warehouse exactly as it was.
        """
        import polars as pl

        from paperlake.schemas.tables import PARTITIONED

        tables = {
            name: ([] if name in replace else list(files)) for name, files in base.tables.items()
        }
        stats = {name: (0 if name in replace else n) for name, n in base.stats.items()}
        for name, frame in frames.items():
            stats.setdefault(name, 0)  # the table exists from now on, even while empty
            column = PARTITIONED.get(name)
            if column is None:
                if frame.height or name in replace:
                    tables[name].append(self._write_part(f"lake/{name}", run_id, frame))
                    stats[name] += frame.height
                continue
            for (value,), part in frame.partition_by(column, as_dict=True).items():
                folder = f"lake/{name}/{column}={value}"
                old = [rel for rel in tables[name] if rel.startswith(f"{folder}/")]
                if old:
                    stats[name] -= self.scan_files(name, old).select(pl.len()).collect().item()
                tables[name] = [rel for rel in tables[name] if rel not in old]
                tables[name].append(self._write_part(folder, run_id, part))
                stats[name] += part.height
        return Manifest(base.version, tables, base.created_at, run_id, stats)

    def _write_part(self, folder: str, run_id: str, frame: pl.DataFrame) -> str:
        """Write one immutable, fsynced part file; return its path relative to the root."""
        rel = f"{folder}/{run_id}-{uuid4().hex[:12]}.parquet"
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        _fsync(tmp)
        os.replace(tmp, target)
        return rel

    def publish(self, staged: Manifest) -> Manifest:
        """Make ``staged`` the current version: the one atomic step of every run."""
        for folder in {
            (self.root / rel).parent for files in staged.tables.values() for rel in files
        }:
            _fsync(folder)
        manifest = Manifest(
            self.current().version + 1,
            staged.tables,
            datetime.now(UTC).isoformat(),
            staged.run_id,
            staged.stats,
        )
        name = f"{manifest.version:08d}.json"
        atomic_write(self.manifests / name, manifest.to_json().encode())
        atomic_write(self.manifests / "CURRENT", name.encode())  # the commit point
        return manifest

    # ---- recovery ----------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove what a killed run left behind; return what was removed (relative paths).

        Must run under the lock.  Part files no manifest names were never visible, temp
        files were never renamed into place; both are safe to delete.
        """
        referenced: set[str] = set()
        if self.manifests.exists():
            for path in self.manifests.glob("*.json"):
                document = json.loads(path.read_text())
                for files in document["tables"].values():
                    referenced.update(files)
        removed: list[str] = []
        candidates = list((self.root / "lake").rglob("*")) if (self.root / "lake").exists() else []
        # ".*.tmp-*": a temp file of the root's own files (the views' database, dashboard.html)
        for pattern in ("raw/**/.*.tmp-*", "_manifests/.*.tmp-*", f".{DB_NAME}*.tmp*", ".*.tmp-*"):
            candidates.extend(self.root.glob(pattern))
        for path in set(candidates):  # the patterns overlap
            if not path.is_file():
                continue
            rel = path.relative_to(self.root).as_posix()
            if rel not in referenced:
                path.unlink()
                removed.append(rel)
        return sorted(removed)

    # ---- lock --------------------------------------------------------------------------
    @contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the single-writer lock for the duration of a run.

        ``flock`` is released by the kernel when its holder dies, so a killed run never
        leaves a stale lock behind; the holder's description in the file is only for the
        message shown to the next run.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".lock"
        try:  # never through a symlink: a planted link would have the run truncate its target
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise LockRefused(
                f"{path} is a symbolic link; remove it (it is not followed)"
            ) from None
        handle = open(fd, "r+")  # noqa: SIM115 - held for the whole block
        deadline = time.monotonic() + wait_seconds
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "an unknown process"
                        raise WarehouseBusy(
                            f"another run holds the warehouse {self.root} since {holder}"
                        ) from None
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"{datetime.now(UTC).isoformat(timespec='seconds')} "
                f"(pid {os.getpid()} on {socket.gethostname()})\n"
            )
            handle.flush()
            yield
        finally:
            handle.close()
