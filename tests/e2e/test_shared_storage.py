"""The lake on shared storage against real servers: SeaweedFS (S3) and PostgreSQL (the
DuckLake catalog), both started here on 127.0.0.1 free ports and stopped afterwards.

Every "machine" is a working folder of its own (``--warehouse``) sharing nothing local with
the others: only the bucket and catalog addresses, from the environment."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bench.generate import generate
from paperlake.lake import Warehouse
from paperlake.schemas.tables import PUBLISHED
from tests.conftest import SAMPLE_CAPTURE, SAMPLES, query
from tests.e2e.servers import KEY_ID, SECRET, Postgres, S3Server, lake_env

pytestmark = pytest.mark.e2e

RUN_SECONDS = 300.0
TABLES = tuple(PUBLISHED)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    # Not under pytest's tmp folder: its owner-only parents keep the postgres user out.
    folder = Path(tempfile.mkdtemp(prefix="paperlake-postgres-"))
    server = Postgres(folder)
    try:
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(folder)


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    server = S3Server(tmp_path / "s3")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def shared_env(
    s3: S3Server,
    postgres: Postgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_harness: None,
) -> dict[str, str]:
    """The addresses and credentials of one fresh shared lake, set for this process too."""
    env = lake_env(s3, postgres.new_database(), tmp_path.name)
    from tests.test_crash import _api_url

    for name, value in {**env, "PREFECT_API_URL": _api_url()}.items():
        monkeypatch.setenv(name, value)  # the runs spawned inherit it all
    return env


def counts(store: Warehouse) -> dict[str, int]:
    """Rows per published table at the lake's current snapshot."""
    return {table: store.scan(table).collect().height for table in TABLES}


def objects(store: Warehouse, folder: str) -> list[str]:
    """Object URLs under ``folder`` of the lake's bucket prefix."""
    con = store.connect(read_only=True)
    try:
        pattern = f"{store.location}/{folder}/**"
        return sorted(path for (path,) in con.execute("FROM glob(?)", [pattern]).fetchall())
    finally:
        con.close()


def cli(tmp_path: Path, machine: str, *argv: str) -> list[str]:
    """``paperlake --warehouse <the machine's own folder> argv...``."""
    return [sys.executable, "-m", "paperlake.cli", "--warehouse", str(tmp_path / machine), *argv]


def spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_in_log(log: Path, marker: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + RUN_SECONDS
    while marker not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no {marker!r} in the run's log:\n{log.read_text()[-4000:]}")
        time.sleep(0.02)


def reference(tmp_path: Path, *landings: Path) -> dict[str, int]:
    """Rows per table of the same inputs ingested into a local warehouse (the default)."""
    from paperlake.flows.ingest import ingest

    with pytest.MonkeyPatch.context() as local:
        local.delenv("PAPERLAKE_LAKE")
        local.delenv("PAPERLAKE_CATALOG")
        root = tmp_path / "local-reference"
        ingest(paths=[str(p) for p in landings], warehouse=str(root))
        return counts(Warehouse(root))


def published_nothing_then_loads(tmp_path: Path, landing: Path, dumps: int) -> None:
    """After a failed run: the lake holds nothing of it, and another machine's run loads
    ``landing`` whole, as a local run of it does."""
    from paperlake.flows.ingest import ingest

    store = Warehouse(tmp_path / "machine-b")
    assert set(counts(store).values()) == {0}, "nothing half-published"
    summary = ingest(paths=[str(landing)], warehouse=str(store.root))
    assert summary.dumps_loaded == dumps
    assert counts(store) == reference(tmp_path, landing)


def test_ingest_into_the_bucket_and_read_from_a_fresh_folder(
    shared_env: dict[str, str], tmp_path: Path, sample_warehouse: Path
) -> None:
    from paperlake.flows.ingest import ingest

    machine = tmp_path / "machine-a"
    ingest(paths=[str(SAMPLES)], warehouse=str(machine), captured_on=SAMPLE_CAPTURE)
    store = Warehouse(machine)
    raw = objects(store, "raw")
    assert sorted(Path(path).name for path in raw) == sorted(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}.txt" for p in SAMPLES.iterdir()
    )
    assert {store.read_raw(path.removeprefix(f"{store.location}/")) for path in raw} == {
        p.read_bytes() for p in SAMPLES.iterdir()
    }
    assert objects(store, "data"), "the lake's Parquet files are in the bucket"
    local = [p.relative_to(machine).as_posix() for p in machine.rglob("*") if p.is_file()]
    assert local == [".lock"], f"a shared lake keeps nothing but its lock locally: {local}"

    # Another machine: an empty folder, only the addresses (in its environment).
    both = "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM listings)"
    command = cli(tmp_path, "machine-b", "sql", "--format", "csv", both)
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert done.returncode == 0, done.stderr
    expected = query(sample_warehouse, both)[0]
    assert done.stdout.strip().splitlines()[-1] == ",".join(map(str, expected))
    assert not (tmp_path / "machine-b").exists() or not any((tmp_path / "machine-b").iterdir())

    # Its reader: no credential in a setting, no SQL on the catalog's server.
    settings = "select value from duckdb_settings() where name like 's3_%' and value <> ''"
    command = cli(tmp_path, "machine-b", "sql", "--format", "csv", settings)
    shown = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert shown.returncode == 0, shown.stderr
    assert SECRET not in shown.stdout and KEY_ID not in shown.stdout
    wipe = (
        "from postgres_execute('__ducklake_metadata_lk', 'COMMIT; DELETE FROM ducklake_data_file')"
    )
    refused = subprocess.run(
        cli(tmp_path, "machine-b", "sql", wipe), capture_output=True, text=True
    )
    assert refused.returncode == 2 and "postgres_execute() is refused" in refused.stderr

    # The dashboard, drawn on demand from the shared lake (a run draws none).
    page = tmp_path / "shared-dashboard.html"
    command = cli(tmp_path, "machine-b", "dashboard", "-o", str(page))
    drawn = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert drawn.returncode == 0, drawn.stderr
    assert f'id="n-papers">{expected[0]:,}<' in page.read_text()


def test_two_machines_write_at_once(shared_env: dict[str, str], tmp_path: Path) -> None:
    landings = [tmp_path / "landing-a", tmp_path / "landing-b"]
    for seed, landing in enumerate(landings, start=1):
        generate(30, landing, seed=seed, first_day=date(2024, seed * 2, 1))
    logs = [tmp_path / f"machine-{n}.log" for n in range(2)]
    runs = [
        (spawn(cli(tmp_path, f"machine-{n}", "ingest", str(landing)), logs[n]), logs[n])
        for n, landing in enumerate(landings)
    ]
    for process, log in runs:
        assert process.wait(timeout=RUN_SECONDS) == 0, log.read_text()[-4000:]
    texts = [log.read_text() for log in logs]
    retried = [text for text in texts if "lost the commit to another writer" in text]
    assert all("running again (attempt 2 of" in text for text in retried)
    store = Warehouse(tmp_path / "machine-0")
    assert counts(store) == reference(tmp_path, *landings), "nothing lost or doubled"
    runs_committed = [entry.run_id for entry in store.history() if entry.run_id]
    assert len(runs_committed) == 2, runs_committed
    print(f"{len(retried)} of 2 writers lost the commit race and ran again")


def test_a_writer_killed_mid_run(shared_env: dict[str, str], tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(60, landing, seed=7)
    log = tmp_path / "machine-a.log"
    process = spawn(cli(tmp_path, "machine-a", "ingest", str(landing), "--batch-size", "10"), log)
    wait_in_log(log, "Task run 'write-", process)  # a batch's files are in the bucket
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert not [entry for entry in Warehouse(tmp_path / "machine-b").history() if entry.run_id]
    published_nothing_then_loads(tmp_path, landing, 60)


def test_the_object_server_stops_mid_run(
    shared_env: dict[str, str], s3: S3Server, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    generate(60, landing, seed=9)
    log = tmp_path / "machine-a.log"
    process = spawn(cli(tmp_path, "machine-a", "ingest", str(landing), "--batch-size", "10"), log)
    wait_in_log(log, "Task run 'write-", process)
    s3.stop()
    code = process.wait(timeout=RUN_SECONDS)
    text = log.read_text()
    assert code == 4, text[-4000:]
    assert "the shared lake failed mid-run" in text and "nothing of this run was published" in text
    assert s3.endpoint in text

    s3.start()
    published_nothing_then_loads(tmp_path, landing, 60)


def hooked(tmp_path: Path, machine: str, when: str, command: str, *argv: str) -> list[str]:
    """:func:`cli` with ``command`` run when the run reaches ``when`` (``tests.e2e.hooked``)."""
    return [
        sys.executable,
        "-m",
        "tests.e2e.hooked",
        when,
        command,
        "--",
        *cli(tmp_path, machine, *argv)[3:],
    ]


def run_logged(command: list[str], log: Path) -> tuple[int, str]:
    """Run ``command`` to its end, its output in ``log`` (a file, not a pipe: a server the
    hook restarts would inherit the pipe and hold it open)."""
    process = spawn(command, log)
    return process.wait(timeout=RUN_SECONDS), log.read_text(errors="replace")


def test_the_catalog_server_restarts_mid_run(
    shared_env: dict[str, str], postgres: Postgres, tmp_path: Path
) -> None:
    """The run's open transaction loses its catalog connection: a clear error, exit 4 (a
    rollback failing inside close() had aborted the process, exit 134, no message)."""

    landing = tmp_path / "landing"
    generate(20, landing, seed=11)
    command = hooked(
        tmp_path, "machine-a", "summaries", postgres.restart_command(), "ingest", str(landing)
    )
    code, text = run_logged(command, tmp_path / "machine-a.log")
    assert code == 4, text[-4000:]
    assert "the shared lake failed mid-run" in text and "nothing of this run was published" in text
    assert "terminate called" not in text

    published_nothing_then_loads(tmp_path, landing, 20)


def test_a_commit_that_loses_the_catalog_connection_runs_again(
    shared_env: dict[str, str], postgres: Postgres, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    generate(20, landing, seed=12)
    command = hooked(
        tmp_path, "machine-a", "commit", postgres.restart_command(), "ingest", str(landing)
    )
    code, text = run_logged(command, tmp_path / "machine-a.log")
    assert code == 0, text[-4000:]
    assert "the catalog's connection failed" in text, text[-4000:]
    assert "another writer" not in text and "running again (attempt 2 of" in text
    assert counts(Warehouse(tmp_path / "machine-b")) == reference(tmp_path, landing)


def test_a_lake_other_than_the_catalogs_is_refused(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    from paperlake.flows.ingest import ingest

    ingest(paths=[str(SAMPLES)], warehouse=str(tmp_path / "machine-a"), captured_on=SAMPLE_CAPTURE)
    lake = shared_env["PAPERLAKE_LAKE"]
    for argv in (["ingest", str(SAMPLES)], ["sql", "select count(*) from papers"]):
        typo = [*cli(tmp_path, "machine-b", *argv)]
        env = os.environ | {"PAPERLAKE_LAKE": f"{lake}-typo"}
        done = subprocess.run(typo, capture_output=True, text=True, timeout=RUN_SECONDS, env=env)
        assert done.returncode == 4, done.stderr[-4000:]
        assert f"holds the lake whose data is at {lake}/data/" in done.stderr
        assert f"point --lake (PAPERLAKE_LAKE) at {lake}," in done.stderr


def test_a_catalog_role_that_may_not_write_is_refused_at_its_first_commit(
    shared_env: dict[str, str], postgres: Postgres, tmp_path: Path
) -> None:
    """A role with SELECT only: exit 4 naming what PostgreSQL denied, after one run (it ran
    5 whole times, each "lost the commit to another writer", then a traceback)."""
    from paperlake.flows.ingest import ingest

    ingest(paths=[str(SAMPLES)], warehouse=str(tmp_path / "owner"), captured_on=SAMPLE_CAPTURE)
    catalog = shared_env["PAPERLAKE_CATALOG"]
    psql = [str(postgres.bin / "psql"), "-h", "127.0.0.1", "-p", str(postgres.port)]
    grant = "create role reader login; grant select on all tables in schema public to reader"
    postgres._run(*psql, "-U", "paperlake", "-d", catalog.rsplit("/", 1)[1], "-c", grant)
    landing = tmp_path / "landing"
    generate(3, landing, seed=13)
    env = os.environ | {"PAPERLAKE_CATALOG": catalog.replace("paperlake@", "reader@")}
    command = cli(tmp_path, "machine-b", "ingest", str(landing))
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS, env=env)
    text = done.stdout + done.stderr
    assert done.returncode == 4, text[-4000:]
    assert "the catalog refused it (permission denied for table ducklake_" in text, text[-4000:]
    assert "attempt 2 of" not in text and "INSERT INTO" not in text.splitlines()[-1]
