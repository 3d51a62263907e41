"""The paperlake CLI with a command run at one point of a run, for the fault tests: ``python
-m tests.e2e.hooked WHEN COMMAND -- ARGV...`` runs ``paperlake ARGV...`` and, the first time
the run reaches WHEN, the shell command COMMAND (stopping a server, say) before going on.

WHEN: ``summaries`` (the run's rows are written, its transaction open), ``commit`` (just
before its COMMIT) or ``published`` (just after it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from paperlake import cli, publish
from paperlake.lake import transaction


def _before(function: Callable[..., Any], command: str) -> Callable[..., Any]:
    fired = False

    def hooked(*args: Any, **kwargs: Any) -> Any:
        nonlocal fired
        if not fired:
            fired = True
            subprocess.run(command, shell=True, check=True)
        return function(*args, **kwargs)

    return hooked


if __name__ == "__main__":
    when, command, separator, *argv = sys.argv[1:]
    assert separator == "--", __doc__
    if when == "summaries":
        publish.write_summaries = _before(publish.write_summaries, command)  # type: ignore[method-assign]
    elif when == "commit":
        transaction.Transaction.commit = _before(transaction.Transaction.commit, command)  # type: ignore[method-assign]
    elif when == "published":
        commit = transaction.Transaction.commit

        def published(self: transaction.Transaction) -> int:
            snapshot = commit(self)
            _before(lambda: None, command)()
            return snapshot

        transaction.Transaction.commit = published  # type: ignore[method-assign]
    else:
        raise SystemExit(__doc__)
    sys.exit(cli.main(argv))
