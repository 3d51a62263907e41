"""What this process has done that its stop-signal handler must report: the stop signals it
received, and the runs it published; and what it runs, for its lock's holder line.

DuckDB turns an exception a signal handler raises while a query runs into its own
``RuntimeError('Query interrupted')``: the signal is kept here too, so that a task is not
retried past it and the command still exits as stopped.  A run stopped after its commit
did publish: the handler says so instead of "nothing published"."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperlake.lake.transaction import Transaction

_signals: list[int] = []
_commits = 0
_last: Transaction | None = None
"""The last run this process published: its snapshot id is read after its COMMIT."""
_command: str | None = None


def running(command: str) -> None:
    """Record what this process runs (``paperlake sql``): the lock's holder names it."""
    global _command
    _command = command


def command() -> str:
    """What this process runs: :func:`running`'s, else its program's name (never its
    arguments: a query's text, a catalog's address, in a file anyone may read)."""
    return _command or Path(sys.argv[0] if sys.argv else "python").name


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
