"""The raw archive: every input's exact bytes under its sha256, written one way only.

Local: ``raw/<aa>/<sha256>.txt`` below the warehouse, durable before it is in place (see
:meth:`RawArchive.archiving`); shared: an object in the bucket (a PUT is atomic).  Archived
copies are written ``ARCHIVE_MODE`` whatever the input's permissions.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import BinaryIO

import duckdb

from paperlake.lake.base import WarehouseBase
from paperlake.lake.layout import ARCHIVE_MODE, HTTPFS, connect_with, s3_secret_sql, sql_str

_SYNC_THREADS = 8
_CHUNK = 1 << 20


def _fsync(path: Path) -> None:
    """fsync a file or a folder (a folder's entries: names created or renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dated(path: Path, captured_on: date) -> None:
    """Give an archived copy the modification time noon UTC of its capture date: the date
    that resolves its page label's year, which the raw archive otherwise does not keep.  A
    rebuild that finds no readable ``dumps`` file (the lake lost) dates each copy by its
    time, as an input with no date in its name: with the archiving time, every page
    label's year became the rebuild's."""
    noon = datetime.combine(captured_on, time(12), UTC).timestamp()
    os.utime(path, (noon, noon))


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


class RawArchive(WarehouseBase):
    """Writing and reading the raw archive (the only code that writes it)."""

    def raw_relpath(self, dump_id: str) -> str:
        return f"raw/{dump_id[:2]}/{dump_id}.txt"

    def _raw_url(self, rel: str) -> str:
        assert self.shared is not None
        return f"{self.shared.lake}/{rel}"

    def read_raw(self, rel: str) -> bytes:
        """An archived input's bytes (``rel`` as :meth:`archive` returned it)."""
        if self.shared is None:
            return (self.root / rel).read_bytes()
        with self._bucket() as con:
            row = con.execute("SELECT content FROM read_blob(?)", [self._raw_url(rel)]).fetchone()
        assert row is not None
        return bytes(row[0])

    @contextmanager
    def _bucket(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the bucket alone, for the raw archive: never the run's, so a
        failed upload does not abort the run's transaction (the task retries it)."""
        con = connect_with(HTTPFS)
        try:
            con.execute(s3_secret_sql())
            yield con
        finally:
            con.close()

    def _put_raw(self, rel: str, source: str, parameters: list[object] | None = None) -> None:
        """Upload ``source`` (a SQL expression giving one BLOB) as ``rel``.  An object PUT
        is atomic, so the archive holds each input whole or not at all; the name is the
        content's hash, so writing it again writes the same bytes."""
        url = sql_str(self._raw_url(rel))
        copy = f"COPY (SELECT {source}) TO {url} (FORMAT blob)"
        if self._uploads is not None:
            self._uploads.execute(copy, parameters)
            return
        with self._bucket() as con:
            con.execute(copy, parameters)

    def archive(self, data: bytes, captured_on: date) -> tuple[str, str]:
        """Keep ``data`` under its sha256; return (dump_id, path relative to root).

        Content-addressed, so archiving the same bytes twice is a no-op, and landing file
        names never decide where anything is written.  Inside :meth:`archiving` the file
        is only in place (and durable) when that block ends.  Dated ``captured_on``
        (:func:`_dated`).
        """
        dump_id = hashlib.sha256(data).hexdigest()
        rel = self.raw_relpath(dump_id)
        if self.shared is not None:
            self._put_raw(rel, "?::BLOB", [data])
            return dump_id, rel
        target = self.root / rel
        if target.exists() or target in self._pending:
            return dump_id, rel
        if self._deferring:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            tmp.write_bytes(data)
            tmp.chmod(ARCHIVE_MODE)
            _dated(tmp, captured_on)
            self._pending[target] = tmp
        else:
            atomic_write(target, data, ARCHIVE_MODE)
            _dated(target, captured_on)
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
        if self.shared is not None:  # each PUT is atomic and durable: nothing to defer
            with self._bucket() as self._uploads:
                try:
                    yield
                finally:
                    self._uploads = None
            return
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

    def archive_stream(
        self, head: bytes, rest: BinaryIO, captured_on: date
    ) -> tuple[str, str, int]:
        """Archive ``head`` followed by the rest of ``rest``, without holding it in memory;
        return (dump_id, path relative to root, bytes).  For inputs too large to be a dump:
        they are kept (quarantined, never lost) but never parsed."""
        digest = hashlib.sha256(head)
        n_bytes = len(head)
        tmp = self.root / "raw" / f".stream.tmp-{os.getpid()}"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            os.fchmod(out.fileno(), ARCHIVE_MODE)
            out.write(head)
            while chunk := rest.read(_CHUNK):
                n_bytes += len(chunk)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        _dated(tmp, captured_on)
        dump_id = digest.hexdigest()
        rel = self.raw_relpath(dump_id)
        self._store_streamed(tmp, rel)
        return dump_id, rel, n_bytes

    def _store_streamed(self, tmp: Path, rel: str) -> None:
        """Put a streamed input's durable temp file ``tmp`` in place as ``rel``."""
        if self.shared is not None:
            try:
                self._put_raw(rel, f"content FROM read_blob({sql_str(str(tmp))})")
            finally:
                tmp.unlink()
            return
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()
        else:
            os.replace(tmp, target)
