"""A backfill's per-batch work on Dask (``paperlake ingest --dask``) against real processes:
a ``LocalCluster`` of 2 worker processes, and a separately started ``dask scheduler`` with
``dask worker`` processes on 127.0.0.1 free ports (the N-machines case).

Each publishes tables identical to Prefect's default task runner on the same inputs: the
real days (``../shared/real/``, read in place) and two planted files that only a run which
reconciles its batches gets right (the real days never list a paper twice): a real day's
exact bytes under a later name, and the same day with one more blank line (other bytes, the
same papers listed again).  The batches ran in the worker processes: each worker loads
``dask_witness.py``, which records the pid of every task it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from paperlake.lake import Warehouse
from paperlake.prefect_server import free_port
from paperlake.schemas.tables import PUBLISHED
from tests.conftest import ROOT
from tests.e2e.dask_witness import WITNESS
from tests.e2e.processes import started, terminate, wait_for

REAL = Path(os.environ.get("PAPERLAKE_SHARED", ROOT.parent / "shared")) / "real"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not REAL.is_dir(), reason=f"no real days at {REAL}"),
]
PRELOAD = Path(__file__).with_name("dask_witness.py")
BATCH_SIZE = "40"
"""201 real files in 6 batches: more batches than workers."""
RUN_SECONDS = 600
RUN_COLUMNS = {"run_id", "ingested_at", "seen_at", "quarantined_at", "archive_path"}
"""What differs between two runs of the same inputs into two warehouses."""


def tables(root: Path) -> dict[str, pl.DataFrame]:
    """Every published table without its run-specific columns, rows in a canonical order."""
    store = Warehouse(root)
    with store.session(create=False):
        frames = {name: store.scan(name).collect() for name in PUBLISHED}
    return {
        name: frame.drop(RUN_COLUMNS & set(frame.columns)).sort(pl.all(), nulls_last=True)
        for name, frame in frames.items()
    }


def assert_same_tables(root: Path, expected: dict[str, pl.DataFrame]) -> None:
    got = tables(root)
    for name, frame in expected.items():
        assert frame.height > 0 or name in {"title_pairs", "quarantine"}, name
        assert got[name].equals(frame), f"{name}: {got[name].height} rows vs {frame.height}"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The real days, and a folder of two files planted from the first of them."""
    planted = tmp_path_factory.mktemp("planted")
    first = min(REAL.glob("*_real.txt")).read_bytes()
    (planted / "2025-12-30_same-bytes.txt").write_bytes(first)
    (planted / "2025-12-31_listed-again.txt").write_bytes(first + b"\n")
    return [str(REAL), str(planted)]


@pytest.fixture(scope="module")
def default_tables(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None, inputs: list[str]
) -> dict[str, pl.DataFrame]:
    """The inputs ingested with Prefect's default task runner."""
    from paperlake.flows.ingest import ingest

    root = tmp_path_factory.mktemp("default") / "warehouse"
    ingest(paths=inputs, warehouse=str(root), batch_size=int(BATCH_SIZE))
    return tables(root)


def ingest(
    warehouse: Path, inputs: list[str], *options: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "paperlake.cli", "--warehouse", str(warehouse), "ingest"]
    return subprocess.run(
        [*argv, *inputs, "--batch-size", BATCH_SIZE, *options],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )


def witnessed(witness: Path) -> dict[int, int]:
    """Tasks run per worker pid, from the witness file."""
    runs: dict[int, int] = {}
    lines = witness.read_text().splitlines() if witness.exists() else []
    for pid, _key in (line.split("\t") for line in lines):
        runs[int(pid)] = runs.get(int(pid), 0) + 1
    return runs


def test_local_cluster_matches_the_default_runner(
    default_tables: dict[str, pl.DataFrame], inputs: list[str], tmp_path: Path
) -> None:
    """``--dask --workers 2`` with no Prefect server configured: one temporary server, which
    the workers report to (they would each start their own otherwise)."""
    witness = tmp_path / "witness.tsv"
    env = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"} | {
        WITNESS: str(witness),
        "DASK_DISTRIBUTED__WORKER__PRELOAD": f'["{PRELOAD}"]',
    }
    done = ingest(tmp_path / "warehouse", inputs, "--dask", "--workers", "2", env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stderr.count("Starting temporary server") == 1, done.stderr[-4000:]
    runs = witnessed(witness)
    assert len(runs) == 2, f"batches ran in {runs} (pid: tasks), expected 2 worker processes"
    assert sum(runs.values()) >= 6
    assert_same_tables(tmp_path / "warehouse", default_tables)


def says(log: Path, marker: str) -> Callable[[], bool | None]:
    """A probe for :func:`wait_for`: has ``log`` said ``marker`` yet."""
    return lambda: True if marker in log.read_text() else None


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[tuple[str, list[int], Path]]:
    """``dask scheduler`` and two ``dask worker`` processes (no nanny: the pids that run the
    tasks are the ones started here), stopped after the test; yields (address, worker pids,
    witness file)."""
    witness = tmp_path / "witness.tsv"
    env = os.environ | {WITNESS: str(witness)}
    dask = str(Path(sys.executable).parent / "dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    scheduler_log = tmp_path / "scheduler.log"
    with started(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        env,
        scheduler_log,
    ) as boss:
        wait_for("scheduler", 60, says(scheduler_log, "Scheduler at"), scheduler_log)
        logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
        worker = [dask, "worker", address, "--no-nanny", "--nthreads", "1", "--no-dashboard"]
        with (
            started([*worker, "--preload", str(PRELOAD)], env, logs[0]) as one,
            started([*worker, "--preload", str(PRELOAD)], env, logs[1]) as two,
        ):
            for log in logs:
                wait_for("worker", 60, says(log, "Registered to"), log)
            yield address, [one.pid, two.pid], witness
            for process, log in ((one, logs[0]), (two, logs[1])):
                terminate(process, log)
        terminate(boss, scheduler_log)


def test_scheduler_and_workers_match_the_default_runner(
    default_tables: dict[str, pl.DataFrame],
    scheduler: tuple[str, list[int], Path],
    inputs: list[str],
    tmp_path: Path,
) -> None:
    """The N-machines case on one machine: the run connects to the scheduler's address."""
    from tests.test_crash import _api_url

    address, workers, witness = scheduler
    env = os.environ | {"PREFECT_API_URL": _api_url()}
    done = ingest(tmp_path / "warehouse", inputs, "--dask", address, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    runs = witnessed(witness)
    assert runs and set(runs) <= set(workers), f"tasks ran in {runs}, workers are {workers}"
    assert sum(runs.values()) >= 6
    assert_same_tables(tmp_path / "warehouse", default_tables)


def test_an_unreachable_scheduler_fails_fast_and_publishes_nothing(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    done = ingest(tmp_path / "warehouse", [str(REAL)], "--dask", address, env=dict(os.environ))
    assert done.returncode == 69, done.stderr[-4000:]
    assert f"the Dask scheduler at {address} does not answer" in done.stderr
    assert not (tmp_path / "warehouse").exists()


DASK_MODULES = ("dask", "distributed", "prefect_dask")
IMPORTS_PROBE = """
import json, sys
from paperlake.cli import main
code = main(sys.argv[2:])
print(json.dumps([name for name in json.loads(sys.argv[1]) if name in sys.modules]))
sys.exit(code)
"""


def test_a_run_without_dask_does_not_import_it(prefect_harness: None, tmp_path: Path) -> None:
    """Dask's import costs seconds: only runs given ``--dask`` pay it."""
    from tests.conftest import SAMPLES
    from tests.test_crash import _api_url

    argv = ["--warehouse", str(tmp_path / "warehouse"), "ingest", str(SAMPLES)]
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_PROBE, json.dumps(DASK_MODULES), *argv],
        env={k: v for k, v in os.environ.items() if k != "PAPERLAKE_DASK"}
        | {"PREFECT_API_URL": _api_url()},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
