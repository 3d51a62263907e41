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

from paperlake.lake.base import WarehouseBase
from paperlake.lake.layout import LockRefused, WarehouseBusy


class Lock(WarehouseBase):
    @contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the single-writer lock for the duration of a run.

        ``flock`` is released by the kernel when its holder dies, so a killed run never
        leaves a stale lock behind; the holder's description in the file is only for the
        message shown to the next run.
        """
        path = self.root / ".lock"
        try:  # never through a symlink: a planted link would have the run truncate its target
            self.root.mkdir(parents=True, exist_ok=True)
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
