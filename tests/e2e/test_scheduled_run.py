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
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import duckdb

from paperlake.prefect_server import free_port
from tests.conftest import SAMPLES
from tests.e2e.processes import started, terminate, wait_for

BIN = Path(sys.executable).parent
SERVER_START_SECONDS = 180
FIRST_RUN_SECONDS = 300
"""The next minute boundary, the scheduler's loop, the runner's poll, then the run itself."""
TIMEZONE = "Europe/Paris"


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
        # written two minutes ago: a scheduled run leaves files of the last minute for later
        two_minutes_ago = time.time() - 120
        os.utime(landing / f"2025-03-14-{dump.name}", (two_minutes_ago, two_minutes_ago))
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
