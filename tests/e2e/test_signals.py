"""SIGTERM or SIGINT to `paperlake ingest` ends the run and every process it started (the
temporary Prefect server included) and leaves the warehouse as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from paperlake.lake import Warehouse
from tests.conftest import SAMPLES
from tests.e2e.processes import descendants, started, terminate, wait_for

RUN_START_SECONDS = 240
"""Prefect's temporary server boots first (10-20 s here, more on a loaded machine)."""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_signal_ends_the_run_and_its_children(signum: int, tmp_path: Path) -> None:
    """SIGKILL included: the run cannot stop its temporary server then, which ends with it
    (it had run on, a child of init)."""
    store = Warehouse(tmp_path / "warehouse")
    log = tmp_path / "ingest.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    argv = [str(Path(sys.executable).parent / "paperlake"), "--warehouse", str(store.root)]
    # The test holds the warehouse, so the run stays inside its flow, waiting for the lock.
    with store.lock(), started([*argv, "ingest", str(SAMPLES), "--wait", "600"], env, log) as run:
        wait_for(
            "flow run",
            RUN_START_SECONDS,
            lambda: "Beginning flow run" in log.read_text() or None,
            log,
        )
        assert descendants(run.pid), "a temporary Prefect server should be running"
        code = terminate(run, log, signum)  # to the CLI's process only, not its group
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL, log.read_text()
        return
    assert code == 128 + signum, log.read_text()
    assert f"{signal.Signals(signum).name}: run stopped, nothing published" in log.read_text()
    # Nothing published: no catalog was created, no file but the lock the test held.
    assert sorted(p.name for p in store.root.iterdir()) == [".lock"]


def test_a_signal_after_the_commit_says_the_run_was_published(tmp_path: Path) -> None:
    """SIGTERM just after the commit: exit 143, and the run is said to be published (it had
    read "nothing published" while the history showed the run)."""
    from tests.conftest import SAMPLE_CAPTURE

    root = tmp_path / "warehouse"
    log = tmp_path / "ingest.log"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    hook = [sys.executable, "-m", "tests.e2e.hooked", "published", "kill -TERM $PPID", "--"]
    argv = ["--warehouse", str(root), "ingest", str(SAMPLES), "--captured-on"]
    with started([*hook, *argv, SAMPLE_CAPTURE.isoformat()], env, log) as run:
        code = run.wait(timeout=RUN_START_SECONDS)
    text = log.read_text()
    assert code == 128 + signal.SIGTERM, text[-4000:]
    assert "SIGTERM: run stopped, the run was published as snapshot" in text, text[-4000:]
    count = [sys.executable, "-m", "paperlake.cli", "--warehouse", str(root), "sql"]
    done = subprocess.run(
        [*count, "--format", "csv", "select count(*) from dumps"], capture_output=True, text=True
    )
    assert done.stdout.split() == ["count_star()", "2"], done.stderr  # the next command's views
