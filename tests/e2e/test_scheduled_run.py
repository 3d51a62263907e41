"""The daily schedule, as a user runs it: a real `prefect server start`, `paperlake serve`.

No test harness: the server is Prefect's own CLI on a free port with its own PREFECT_HOME,
the deployment is registered by `paperlake serve` in its own process, a run is scheduled by
the every-minute cron, and Prefect's CLI must list the run and its artifacts. Then SIGTERM
stops `serve` (first: it would hang if the server went away under it), then the server, and
no process of either is left behind. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pytest

from tests.conftest import SAMPLES

T = TypeVar("T")
BIN = Path(sys.executable).parent
SERVER_START_SECONDS = 180
FIRST_RUN_SECONDS = 300
"""The next minute boundary, the scheduler's loop, the runner's poll, then the run itself."""
STOP_SECONDS = 60
TIMEZONE = "Europe/Paris"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, seconds: float, probe: Callable[[], T | None], log: Path) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(2)
    raise AssertionError(f"no {what} within {seconds} s; log:\n{log.read_text()[-4000:]}")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


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


def terminate(process: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, then assert the process and every process it started are gone."""
    family = descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"{process.args!r} ignored SIGTERM for {STOP_SECONDS} s; log:\n{log.read_text()}"
        ) from None
    left = wait_for(
        "exit of every child",
        STOP_SECONDS,
        lambda: [] if not any(alive(pid) for pid in family) else None,
        log,
    )
    assert left == []
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing left in its process group either


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def healthy(base: str) -> bool | None:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=5) as answer:
            return True if answer.status == 200 else None
    except OSError:
        return None


def test_a_scheduled_run_completes_and_everything_stops(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    landing.mkdir()
    for dump in SAMPLES.iterdir():  # named without a date: captured on their mtime's day
        shutil.copy(dump, landing / f"2025-03-14-{dump.name}")
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": base,
    }
    server_log, serve_log = tmp_path / "server.log", tmp_path / "serve.log"
    server_argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
    with started([*server_argv, "--port", str(port)], env, server_log) as server:
        wait_for("healthy server", SERVER_START_SECONDS, lambda: healthy(base), server_log)
        serve_argv = [str(BIN / "paperlake"), "--warehouse", str(warehouse), "serve"]
        serve_argv += ["--landing", str(landing), "--cron", "* * * * *", "--timezone", TIMEZONE]
        with started(serve_argv, env, serve_log) as serve:
            deployment = wait_for(
                "deployment",
                120,
                lambda: next(
                    iter(
                        api(
                            base,
                            "POST",
                            "/deployments/filter",
                            {"deployments": {"name": {"any_": ["paperlake-daily"]}}},
                        )
                    ),
                    None,
                ),
                serve_log,
            )
            [schedule] = deployment["schedules"]
            assert schedule["schedule"]["cron"] == "* * * * *"
            assert schedule["schedule"]["timezone"] == TIMEZONE
            assert deployment["global_concurrency_limit"]["limit"] == 1
            assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"

            completed = wait_for(
                "completed scheduled run",
                FIRST_RUN_SECONDS,
                lambda: next(
                    iter(
                        api(
                            base,
                            "POST",
                            "/flow_runs/filter",
                            {
                                "deployments": {"id": {"any_": [deployment["id"]]}},
                                "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
                            },
                        )
                    ),
                    None,
                ),
                serve_log,
            )
            assert completed["auto_scheduled"]
            with duckdb.connect(str(warehouse / "paperlake.duckdb"), read_only=True) as con:
                assert con.sql("select count(*) from dumps").fetchone() == (2,)
                assert con.sql("select count(*) from repeated_listings").fetchone() == (7,)

            for command, expected in (
                (["flow-run", "ls", "--state-type", "COMPLETED"], [completed["name"]]),
                (["artifact", "ls"], ["paperlake-run-summary", "paperlake-run-report"]),
            ):
                listed = subprocess.run(
                    [str(BIN / "prefect"), *command],
                    env={**env, "COLUMNS": "250"},
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert listed.returncode == 0, listed.stderr
                for text in expected:
                    assert text in listed.stdout, f"prefect {' '.join(command)}:\n{listed.stdout}"

            terminate(serve, serve_log)  # first: serve hangs if the server dies under it
        terminate(server, server_log)
