"""Prefect's temporary server for one command's run, started by paperlake itself.

With no Prefect API configured, Prefect's client starts a temporary server when a flow
first needs the API: it imports the whole server application into the command's own
process just to launch it (~3 s of CPU), then waits for the server's boot (imports,
database migrations, block registration, services), all before the run's first task.
paperlake starts the same server (the command and environment of Prefect 3.9.1's
``SubprocessASGIServer``) as soon as it knows no API is configured, so the boot runs on the
other core while the command imports the flows, and hands its URL to the run.

The server skips what a one-run server does not need (:data:`ONE_SHOT`); anything set in
Prefect's settings (environment, profile) reaches it as Prefect would pass it, and wins. It is
stopped at exit, after Prefect's own exit handlers have sent the run's last logs and events.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.settings import Settings

APP = "prefect.server.api.server:create_app"
EPHEMERAL = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
"""Prefect's own temporary server's environment: no UI, only the services it needs."""
ONE_SHOT = {
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}
"""Skipped by a server that lives for one run, unless the settings say otherwise: registering
Prefect's block types in its database, and the memo of that registration, whose check
imports every installed Prefect collection first (``prefect-dask`` imports ``distributed``)
even when registration is off: ~1.5 s of CPU per boot together. A flow run uses no block."""
ADDRESS_IN_USE = 3
"""uvicorn's exit code when its port was taken between choosing it and binding it."""
POLL_SECONDS = 0.1
STOP_SECONDS = 5.0


class ServerFailed(RuntimeError):
    """The temporary server exited, or did not answer within its start-up timeout."""


LOWEST_PORT = 20000
"""Ports :func:`free_port` picks start here (above the usual fixed service ports)."""
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_PICK = random.SystemRandom()  # never the global ``random``: its state is the caller's


def free_port() -> int:
    """A loopback port nothing listens on now (the one place paperlake, its tests and its
    benchmarks pick one), below the kernel's ephemeral range where it has one.

    A port from ``bind(0)`` is an ephemeral one, which any outgoing connection may take
    between the pick and the server's own bind: a ``weed mini`` starting on such ports once
    died with "bind: address already in use" because its own components' connections had
    taken one of its listener ports."""
    try:
        highest = int(_EPHEMERAL.read_text().split()[0]) - 1
    except (OSError, ValueError, IndexError):
        highest = 0  # no such range known (not Linux): an ephemeral port it is
    for _ in range(200):
        port = _PICK.randint(LOWEST_PORT, highest) if highest > LOWEST_PORT else 0
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken: pick again
            return int(probe.getsockname()[1])
    raise OSError(f"no free loopback port found between {LOWEST_PORT} and {highest}")


_PR_SET_PDEATHSIG = 1


def serve_with_parent(parent: int, uvicorn_argv: list[str]) -> None:
    """The server's process: asks for SIGTERM when the run's process dies (Linux), then runs
    uvicorn.  So a SIGKILLed run leaves no server behind: its own exit stops the server, a
    kill could not, and the server had run on, a child of init.  Asked here, after the
    exec, not between fork and exec (unsafe once the run has threads)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the run died before the call: nothing would signal
            raise SystemExit(1)
    import runpy

    sys.argv = ["uvicorn", *uvicorn_argv]
    runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)


class TemporaryServer:
    """A Prefect API server on a free loopback port, booting from construction on."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = float(settings.server.ephemeral.startup_timeout_seconds)
        explicit = settings.to_environment_variables(exclude_unset=True)
        self._env = {**os.environ, **ONE_SHOT, **EPHEMERAL, **explicit}
        self._started = time.monotonic()
        self.port, self.process = self._launch()
        atexit.register(self.stop)  # after Prefect's exit handlers, registered later

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _launch(self) -> tuple[int, subprocess.Popen[bytes]]:
        port = free_port()
        argv = [sys.executable, "-m", __name__, str(os.getpid()), "--factory", APP]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
        return port, subprocess.Popen([*argv, "--lifespan", "on"], env=self._env)

    def wait_ready(self) -> str:
        """Its API URL once ``/health`` answers, within the start-up timeout counted from
        the launch; a port taken meanwhile means one more launch on another."""
        while time.monotonic() - self._started < self.timeout:
            code = self.process.poll()
            if code == ADDRESS_IN_USE:
                self.port, self.process = self._launch()
            elif code is not None:
                raise ServerFailed(f"Prefect's temporary server exited with code {code}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return self.api_url
            except OSError:  # not listening yet (URLError is an OSError)
                pass
            time.sleep(POLL_SECONDS)
        raise ServerFailed(
            f"Prefect's temporary server did not answer within {self.timeout:g} s "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)"
        )

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Prefect's settings name this server inside the block (once it answers), and its
        flow runs send no heartbeats: the server ends with the run, so nothing could act on
        them, and Prefect 3.9.1 joins its heartbeat thread at a flow's end while that thread
        sleeps in 1 s steps (up to 1 s of idle wait per run, ~0.5 s on average)."""
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
            temporary_settings,
        )

        url = self.wait_ready()
        with temporary_settings(
            updates={PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        ):
            yield url

    def stop(self) -> None:
        """Terminate it (kill after :data:`STOP_SECONDS`); idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        atexit.unregister(self.stop)


if __name__ == "__main__":  # the server's process: see :func:`serve_with_parent`
    serve_with_parent(int(sys.argv[1]), sys.argv[2:])
