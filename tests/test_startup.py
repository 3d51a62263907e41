"""The read-only commands start without the heavy libraries (no timing: see bench/startup.py),
and a run without a configured Prefect server boots its temporary server in a process of its
own (see bench/cli_backfill.py).

Each command runs in a fresh interpreter (against a warehouse built without Prefect: empty
tables, real views) and reports which of the modules it is asked about it imported."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from paperlake.lake import Warehouse
from paperlake.views import build_database

HEAVY = frozenset({"prefect", "pandera", "pandas", "polars", "duckdb"})
PROBE = """
import json, sys
from paperlake.cli import main
code = 0
try:
    code = main(sys.argv[2:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(set(sys.modules) & set(json.loads(sys.argv[1])))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""
SERVER_APP = "prefect.server.api.server"
"""Prefect's server application: the temporary server imports it, the CLI's process never."""

READ_COMMANDS: dict[str, tuple[list[str], set[str]]] = {
    # command -> (argv, the heavy packages it may import)
    "help": (["--help"], set()),
    "sql": (["sql", "select 1"], {"duckdb"}),
    "report": (["report"], {"duckdb"}),
    "quarantine": (["quarantine"], {"duckdb"}),
    # The query is tokenized by the index's own polars expression (one tokenizer).
    "search": (["search", "mixture of experts"], {"duckdb", "polars"}),
}


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = Warehouse(tmp_path_factory.mktemp("startup") / "warehouse")
    with store.session():
        build_database(store, store.current())
    return store.root


def imported(
    argv: list[str],
    warehouse: Path,
    modules: frozenset[str] = HEAVY,
    env: dict[str, str] | None = None,
) -> tuple[object, set[str], subprocess.CompletedProcess[str]]:
    """The exit code of ``paperlake argv`` in a fresh interpreter (with ``env``, by default
    this one's), which of ``modules`` it imported, and the finished process."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(sorted(modules)), *argv],
        capture_output=True,
        text=True,
        env={**(os.environ if env is None else env), "PAPERLAKE_WAREHOUSE": str(warehouse)},
        timeout=600,
        check=False,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return report["code"], set(report["heavy"]), result


@pytest.mark.parametrize("command", list(READ_COMMANDS))
def test_read_commands_import_no_heavy_library(command: str, empty_warehouse: Path) -> None:
    argv, allowed = READ_COMMANDS[command]
    code, heavy, _ = imported(argv, empty_warehouse)
    assert code in (0, None)
    assert heavy <= allowed, f"`paperlake {' '.join(argv)}` imported {sorted(heavy - allowed)}"


def test_stale_views_are_rebuilt_by_a_reader(empty_warehouse: Path, tmp_path: Path) -> None:
    """The fast path still notices a moved warehouse and rebuilds its views."""
    import shutil

    from paperlake.views import database_version

    moved = tmp_path / "moved"
    shutil.copytree(empty_warehouse, moved)
    assert database_version(Warehouse(moved)) is None  # built for the old place
    code, heavy, _ = imported(["sql", "select count(*) from dumps"], moved)
    assert code == 0
    assert "prefect" not in heavy
    assert database_version(Warehouse(moved)) == Warehouse(moved).current_version()


def _processes_with(home: Path) -> list[int]:
    """The live processes whose environment names ``home`` as their PREFECT_HOME."""
    marker = f"PREFECT_HOME={home}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue  # exited meanwhile, or not ours to read
    return found


@pytest.mark.e2e
def test_a_run_boots_its_temporary_server_apart_and_stops_it(tmp_path: Path) -> None:
    """No PREFECT_API_URL: the run starts Prefect's server in its own process (the CLI's
    never imports the server app), loads the samples through it (its flow run sends no
    heartbeat: nothing outlives the run to act on one), and stops it at exit."""
    from tests.conftest import SAMPLES

    home = tmp_path / "prefect-home"
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    argv = ["ingest", str(SAMPLES), "--captured-on", "2025-03-14"]
    code, imports, run = imported(argv, tmp_path / "wh", frozenset({"prefect", SERVER_APP}), env)
    assert code == 0, run.stderr[-4000:]
    assert "loaded 2 dump(s)" in run.stdout
    assert imports == {"prefect"}, "the CLI imported Prefect's server application"
    assert run.stderr.count("Starting temporary server") == 1, run.stderr[-4000:]
    assert (home / "prefect.db").is_file(), "the run's server kept no database"
    assert _processes_with(home) == [], "the temporary server outlived the run"
    with sqlite3.connect(home / "prefect.db") as db:
        events = dict(db.execute("select event, count(*) from events group by event"))
    assert events.get("prefect.flow-run.Completed") == 1, events
    assert "prefect.flow-run.heartbeat" not in events, "a one-run server's flow sent heartbeats"


@pytest.mark.e2e
def test_a_temporary_server_late_to_answer_exits_69(tmp_path: Path) -> None:
    """Its start-up timeout is Prefect's setting; past it nothing runs and it is stopped."""
    from tests.conftest import SAMPLES

    home = tmp_path / "prefect-home"
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}
    code, _, run = imported(["ingest", str(SAMPLES)], tmp_path / "wh", frozenset(), env)
    assert code == 69, run.stderr[-4000:]
    assert "temporary server did not answer within 1 s" in run.stderr
    assert not (tmp_path / "wh").exists(), "a run started without its server"
    assert _processes_with(home) == [], "the temporary server outlived the command"


def test_free_ports_are_outside_the_ephemeral_range() -> None:
    """Every server paperlake, its tests and benchmarks start listens on a port of
    :func:`free_port`: never one an outgoing connection may be given meanwhile."""
    from paperlake.prefect_server import LOWEST_PORT, free_port

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert all(LOWEST_PORT <= port < low for port in ports), sorted(ports)
    assert len(ports) > 40  # picked at random, not one port again and again
