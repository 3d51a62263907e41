"""A 1-year backfill from the command line, start-up included: ``paperlake ingest`` with
Prefect's temporary server (on a machine where Prefect never ran: a fresh ``PREFECT_HOME``,
whose database the server migrates first; then again, as on any later day), with a
configured server (booted before, not timed), and the naive row-by-row loader, for
``bench.backfill``.  Each figure is the wall and the CPU seconds of the command's process
and its children (the temporary server included)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import ROOT, load_average, worker
from paperlake.prefect_server import free_port

BIN = Path(sys.executable).parent


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"  # a loaded machine
    env["PYTHONPATH"] = str(ROOT)  # the code of this tree, whatever the venv installed
    return {**env, **extra}


def timed_cli(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its children) of one command, which must pass."""
    with cpu_of_children() as cpu:
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, cpu[0]


@contextmanager
def cpu_of_children() -> Iterator[list[float]]:
    """The CPU seconds of the child processes waited for inside the block, in its list."""
    spent = [0.0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    yield spent
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A ``prefect server start`` on a free port with its own PREFECT_HOME; its API URL.
    Stopped (its process group, which this started) when the block ends."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        argv,
        env=_cli_env(PREFECT_HOME=str(home)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=5):
                    break
            except OSError:
                time.sleep(1)
        else:
            raise SystemExit(f"prefect server did not answer within 180 s: {home / 'server.log'}")
        yield api
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def cli_backfills(folder: Path) -> dict[str, dict[str, float]]:
    """``paperlake ingest FOLDER`` into a fresh warehouse each time: with a temporary Prefect
    server on a fresh ``PREFECT_HOME``, again on that home, with a configured server; and
    the naive loader."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="paperlake-bench-") as tmp:
        home = Path(tmp) / "prefect-home"
        home.mkdir()
        env = _cli_env(PREFECT_HOME=str(home))
        for n, name in enumerate(
            ("temporary server", "temporary server, PREFECT_HOME used before")
        ):
            results[name] = _timed_ingest(Path(tmp) / f"wh{n}", folder, env)
        with prefect_server(home) as api:
            env = _cli_env(PREFECT_HOME=str(home), PREFECT_API_URL=api)
            results["configured server"] = _timed_ingest(Path(tmp) / "wh-configured", folder, env)
        load = load_average()
        with cpu_of_children() as cpu:
            naive = worker("baseline", str(folder), str(Path(tmp) / "naive.duckdb"))
        results["naive row-by-row loader"] = {"wall": naive["seconds"], "cpu": cpu[0], "load": load}
    return results


def _timed_ingest(warehouse: Path, folder: Path, env: dict[str, str]) -> dict[str, float]:
    load = load_average()
    argv = [str(BIN / "paperlake"), "--warehouse", str(warehouse), "ingest", str(folder)]
    wall, cpu = timed_cli(argv, env)
    return {"wall": wall, "cpu": cpu, "load": load}
