"""Crash safety: real ``paperlake ingest`` processes killed with SIGKILL at random moments.

After every kill the warehouse must read exactly as before the run or exactly as after a run
that never crashed (through the DuckDB views and through the DuckLake catalog), every raw
file must be intact, and the next run must recover to exactly the uncrashed result with no
leftover files: every data file is known to the catalog.  Also: two writers at once, and a
reader holding the database open.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from bench.generate import generate
from paperlake.flows.ingest import ingest
from paperlake.lake import Warehouse
from paperlake.views import ensure_database
from tests.conftest import ROOT, SAMPLES
from tests.hostile import CATALOGUE

TRIALS = int(os.environ.get("PAPERLAKE_KILL_TRIALS", "25"))
BATCH = "8"  # several batches per run, so kills land between part writes too
VIEWS = {
    "dumps": "select dump_id, source_file, listed_on, captured_on, n_papers from dumps",
    "listings": "select * from listings",
    "papers": "select * from papers",
    "repos": "select * from repos",
    "entities": "select * from entities",
    "topic_frequency": "select * from topic_frequency",
    "quarantine": "select source_file, dump_id, reason, detail, line from quarantine",
}
LAKE = ["dumps", "listings", "papers", "paper_links", "paper_entities", "paper_topics"]
VOLATILE = {"run_id", "ingested_at", "quarantined_at", "seen_at"}

pytestmark = pytest.mark.usefixtures("prefect_harness")


def view_state(root: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(root / "paperlake.duckdb"), read_only=True) as con:
        return {name: sorted(con.execute(sql).fetchall(), key=repr) for name, sql in VIEWS.items()}


def lake_state(root: Path) -> dict[str, list[tuple]]:
    store = Warehouse(root)
    state = {}
    for table in LAKE:
        frame = store.scan(table).collect()
        frame = frame.drop([c for c in frame.columns if c in VOLATILE])
        state[table] = sorted(frame.rows(), key=repr)
    return state


def assert_raw_archive_intact(root: Path) -> None:
    for path in (root / "raw").rglob("*.txt"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem, path


def assert_no_unpublished_files(root: Path) -> None:
    """Every file under the data path is one the catalog knows: in a snapshot, or replaced
    and kept for readers of the previous views until the next run."""
    store = Warehouse(root)
    with store.session(create=False) as con:
        meta = "__ducklake_metadata_lk"
        referenced = {  # DuckLake names every file by a fresh UUID
            Path(path).name
            for (path,) in con.execute(
                f"select path from {meta}.ducklake_data_file union all "
                f"select path from {meta}.ducklake_delete_file union all "
                f"select path from {meta}.ducklake_files_scheduled_for_deletion"
            ).fetchall()
        }
    on_disk = {p.name for p in store.data_path.rglob("*") if p.is_file()}
    assert on_disk and on_disk <= referenced, sorted(on_disk - referenced)


def copy_warehouse(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    store = Warehouse(target)
    with store.session(create=False):
        ensure_database(store)  # its views named the source's absolute paths
    return target


def ingest_command(warehouse: Path, inputs: list[Path], *extra: str) -> list[str]:
    """The real `paperlake ingest` command line, run in its own process."""
    return [
        sys.executable,
        "-m",
        "paperlake.cli",
        "--warehouse",
        str(warehouse),
        "ingest",
        *map(str, inputs),
        *extra,
    ]


def ingest_process(
    warehouse: Path, inputs: list[Path], log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ingest_command(warehouse, inputs, "--batch-size", BATCH, *extra),
        cwd=ROOT,
        env=os.environ | {"PREFECT_API_URL": _api_url(), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test harness should provide an API URL"
    return url


def wait_for(log: Path, marker: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until ``marker`` appears in the process's log; False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in log.read_text(errors="replace"):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"no {marker!r} within {timeout}s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict:
    """A warehouse 'before', the inputs of the run under test, and the uncrashed 'after'."""
    root = tmp_path_factory.mktemp("crash")
    old, new = root / "landing_old", root / "landing_new"
    generate(12, old, seed=11)
    generate(48, new, seed=12)
    for sample in SAMPLES.iterdir():
        shutil.copy(sample, new / sample.name)
        stamp = datetime(2025, 3, 14, 12, tzinfo=UTC).timestamp()
        os.utime(new / sample.name, (stamp, stamp))
    for hostile in CATALOGUE[:6]:
        hostile.make(new / hostile.file_name)
    before = root / "before"
    ingest(paths=[str(old)], warehouse=str(before))
    after = copy_warehouse(before, root / "after")
    log = root / "reference.log"
    process = ingest_process(after, [old, new], log)
    assert wait_for(log, "Beginning flow run", process, timeout=120)
    started = time.monotonic()
    assert process.wait(timeout=300) == 0, log.read_text()
    return {
        "root": root,
        "inputs": [old, new],
        "before": before,
        "before_views": view_state(before),
        "before_lake": lake_state(before),
        "after_views": view_state(after),
        "after_lake": lake_state(after),
        "flow_seconds": time.monotonic() - started,
    }


def test_reference_run_changes_the_warehouse(scenario: dict) -> None:
    assert scenario["before_views"] != scenario["after_views"]
    assert len(scenario["after_views"]["dumps"]) == 12 + 48 + 2


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_at_a_random_moment(scenario: dict, trial: int) -> None:
    rng = random.Random(trial)
    warehouse = copy_warehouse(scenario["before"], scenario["root"] / f"trial-{trial}")
    log = scenario["root"] / f"trial-{trial}.log"
    process = ingest_process(warehouse, scenario["inputs"], log)
    delay = rng.uniform(0, scenario["flow_seconds"] * 1.1)
    if wait_for(log, "Beginning flow run", process, timeout=120):
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
    killed = process.wait(timeout=60) == -signal.SIGKILL

    # Exactly before or exactly after, through the views and through the catalog.
    views, lake = view_state(warehouse), lake_state(warehouse)
    assert views in (scenario["before_views"], scenario["after_views"])
    assert lake in (scenario["before_lake"], scenario["after_lake"])
    assert_raw_archive_intact(warehouse)
    state = "before" if lake == scenario["before_lake"] else "after"
    print(f"trial {trial}: killed={killed} after {delay:.2f}s of the flow, state={state}")

    # The next run recovers to exactly what a run that never crashed produced.
    summary = ingest(paths=[str(p) for p in scenario["inputs"]], warehouse=str(warehouse))
    assert view_state(warehouse) == scenario["after_views"]
    assert lake_state(warehouse) == scenario["after_lake"]
    assert_no_unpublished_files(warehouse)
    assert not [p for p in warehouse.rglob("*tmp*")], "temporary files left behind"
    assert summary.snapshot >= 2


def test_second_writer_is_refused_then_waits(scenario: dict, tmp_path: Path) -> None:
    warehouse = copy_warehouse(scenario["before"], tmp_path / "wh")
    env = os.environ | {"PREFECT_API_URL": _api_url()}
    with Warehouse(warehouse).lock():  # another run is writing
        refused = subprocess.run(
            ingest_command(warehouse, scenario["inputs"]),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        waiter = ingest_process(warehouse, scenario["inputs"], tmp_path / "w.log", "--wait", "120")
        assert wait_for(tmp_path / "w.log", "Beginning flow run", waiter, timeout=120)
        time.sleep(1)
        assert waiter.poll() is None, "the waiting run must not proceed while the lock is held"
    assert refused.returncode == 75, refused.stderr
    assert "another run holds the warehouse" in refused.stderr and " since " in refused.stderr
    assert view_state(warehouse) == scenario["before_views"]  # the refused run wrote nothing
    assert waiter.wait(timeout=300) == 0
    assert view_state(warehouse) == scenario["after_views"]


def test_lock_of_a_killed_run_is_not_stale(scenario: dict, tmp_path: Path) -> None:
    warehouse = copy_warehouse(scenario["before"], tmp_path / "wh")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from paperlake.lake import Warehouse\n"
            "with Warehouse(Path(sys.argv[1])).lock():\n    print('held', flush=True); "
            "time.sleep(600)",
            str(warehouse),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=30)
    ingest(paths=[str(p) for p in scenario["inputs"]], warehouse=str(warehouse))
    assert view_state(warehouse) == scenario["after_views"]


def test_reader_holding_the_database_never_blocks_a_run(scenario: dict, tmp_path: Path) -> None:
    warehouse = copy_warehouse(scenario["before"], tmp_path / "wh")
    reader = duckdb.connect(str(warehouse / "paperlake.duckdb"), read_only=True)
    try:
        seen_before = reader.execute("select count(*) from dumps").fetchall()
        ingest(paths=[str(p) for p in scenario["inputs"]], warehouse=str(warehouse))
        assert reader.execute("select count(*) from dumps").fetchall() == seen_before
    finally:
        reader.close()
    assert view_state(warehouse) == scenario["after_views"]
