"""The single-writer lock: an exclusive ``flock`` on ``<root>/.lock``."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from paperlake import process
from paperlake.lake.base import WarehouseBase
from paperlake.lake.layout import LockRefused, WarehouseBusy

LOCK_NAME = ".lock"
"""The single-writer lock's file in the warehouse folder."""
SERVE_LOCK_NAME = ".serve.lock"
"""The scheduler's lock's file in the warehouse folder (:meth:`Lock.scheduling`)."""
LOCK_NAMES = frozenset({LOCK_NAME, SERVE_LOCK_NAME})


class Lock(WarehouseBase):
    @contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the single-writer lock for the duration of a run.

        ``flock`` is released by the kernel when its holder dies, so a killed run never
        leaves a stale lock behind; the holder's description in the file is only for the
        message shown to the next run.
        """
        with held(self.root / LOCK_NAME, wait_seconds, "another run holds the warehouse"):
            yield

    @contextmanager
    def scheduling(self) -> Iterator[None]:
        """Hold the scheduler's lock while ``paperlake serve`` runs: a second ``serve`` of
        the warehouse replaced the first's schedule, and stopping either paused the
        deployment both served (the other then ran nothing, silently)."""
        with held(self.root / SERVE_LOCK_NAME, 0.0, "another `paperlake serve` schedules"):
            yield


@contextmanager
def held(path: Path, wait_seconds: float, busy: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (in the warehouse folder) for the block, the
    holder described in the file; :class:`WarehouseBusy` ("``busy`` the warehouse ... since
    <holder>") if another process holds it after ``wait_seconds``."""
    root = path.parent
    try:  # never through a symlink: a planted link would have the run truncate its target
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockRefused(
                f"{path} is a symbolic link; remove it (it is not followed)"
            ) from None
        # a read-only file system, a folder without write permission: one line, no trace
        raise LockRefused(
            f"cannot write the warehouse's lock {path}: {exc.strerror or exc} (writing "
            "commands, and readers whose views must be rebuilt, need to write the warehouse)"
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
                    raise WarehouseBusy(f"{busy} {root} since {holder}") from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"{datetime.now(UTC).isoformat(timespec='seconds')} "
            f"(pid {os.getpid()} on {socket.gethostname()}: {process.command()})\n"
        )
        handle.flush()
        yield
    finally:
        handle.close()
