"""What this process has done that its stop-signal handler must report: the stop signals it
received, and the runs it published.

DuckDB turns an exception a signal handler raises while a query runs into its own
``RuntimeError('Query interrupted')``: the signal is kept here too, so that a task is not
retried past it and the command still exits as stopped.  A run stopped after its commit
did publish: the handler says so instead of "nothing published"."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperlake.lake.transaction import Transaction

_signals: list[int] = []
_commits = 0
_last: Transaction | None = None
"""The last run this process published: its snapshot id is read after its COMMIT."""


def stop_received(signum: int) -> None:
    _signals.append(signum)


def stop_signal() -> int | None:
    """The last stop signal received, if any."""
    return _signals[-1] if _signals else None


def published(run: Transaction) -> None:
    """``run``'s COMMIT went through (called before anything else runs after it)."""
    global _commits, _last
    _commits += 1
    _last = run


def commits() -> int:
    """How many runs this process has published (compare before and after a run)."""
    return _commits


def last_commit() -> int | None:
    """The snapshot the last published run made, once its id is read."""
    return None if _last is None else _last.committed
