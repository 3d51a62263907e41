"""Real processes for end-to-end tests: bounded waits, and proof that a stopped
process left nothing behind (its descendants, from /proc, and its process group)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
STOP_SECONDS = 60


def wait_for(what: str, seconds: float, probe: Callable[[], T | None], log: Path) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(2)
    raise AssertionError(f"no {what} within {seconds} s; log:\n{log.read_text()[-4000:]}")


def _fields(stat: Path) -> list[str] | None:
    """A /proc stat file's fields after the command name (state, parent pid, process group,
    ...); None once the process is gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _stats() -> Iterator[tuple[int, list[str]]]:
    """Each process's pid and its :func:`_fields`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _fields(stat)
        if fields is not None:  # else exited meanwhile
            yield int(stat.parent.name), fields


def _running(fields: list[str]) -> bool:
    """Not ended: a zombie has, it only waits to be reaped (this container's init reaps
    ~1.5 s late)."""
    return fields[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for child, fields in _stats():
        children.setdefault(int(fields[1]), []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    fields = _fields(Path(f"/proc/{pid}/stat"))
    return fields is not None and _running(fields)


def alive_in_group(group: int) -> list[int]:
    """The processes of process group ``group`` that have not ended (:func:`_running`)."""
    return [pid for pid, fields in _stats() if int(fields[2]) == group and _running(fields)]


def group_ends(group: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for every process of ``group`` to end."""
    deadline = time.monotonic() + timeout
    while alive_in_group(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@contextmanager
def started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session; killed (with its group) if the test did not stop it."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_SECONDS)


def terminate(process: subprocess.Popen[bytes], log: Path, signum: int = signal.SIGTERM) -> int:
    """Send ``signum``, then assert the process and every process it started are gone;
    return its exit code."""
    family = descendants(process.pid)
    process.send_signal(signum)
    try:
        code = process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"{process.args!r} ignored {signal.Signals(signum).name} for {STOP_SECONDS} s; "
            f"log:\n{log.read_text()}"
        ) from None
    wait_for(
        "exit of every child",
        STOP_SECONDS,
        lambda: True if not any(alive(pid) for pid in family) else None,
        log,
    )
    if group_ends(process.pid, STOP_SECONDS):  # nothing left in its group either
        return code  # (a zombie has ended: after a SIGKILL its children wait for init)
    raise AssertionError(f"{process.args!r} left processes in its group; log:\n{log.read_text()}")
