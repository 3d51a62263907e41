"""What this process has done that its stop-signal handler must report: the stop signals it
received, and the snapshots it committed.

DuckDB turns an exception a signal handler raises while a query runs into its own
``RuntimeError('Query interrupted')``: the signal is kept here too, so that a task is not
retried past it and the command still exits as stopped.  A run stopped after its commit
did publish: the handler says so instead of "nothing published"."""

from __future__ import annotations

_signals: list[int] = []
_snapshots: list[int | None] = []


def stop_received(signum: int) -> None:
    _signals.append(signum)


def stop_signal() -> int | None:
    """The last stop signal received, if any."""
    return _signals[-1] if _signals else None


def committed(snapshot: int | None) -> None:
    """A commit went through: ``None`` at once, then its snapshot id once read."""
    if snapshot is not None and _snapshots and _snapshots[-1] is None:
        _snapshots[-1] = snapshot
    else:
        _snapshots.append(snapshot)


def commits() -> int:
    """How many snapshots this process has committed (compare before and after a run)."""
    return len(_snapshots)


def last_commit() -> int | None:
    return _snapshots[-1] if _snapshots else None
