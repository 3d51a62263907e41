"""Real servers for the lake on shared storage, started on 127.0.0.1 free ports: SeaweedFS's
``weed mini`` (S3) and a private PostgreSQL cluster (the DuckLake catalog).  Used by
``tests/e2e/test_shared_storage.py`` and ``bench/shared.py``; the caller stops what it starts."""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import duckdb_extension_httpfs

from paperlake.prefect_server import free_port

READY_SECONDS = 30.0
KEY_ID, SECRET = "paperlake", "paperlake-secret"
BUCKET = "paperlake"


def _wait(what: str, probe: object, log: Path, seconds: float = READY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not ready within {seconds} s:\n{log.read_text()[-3000:]}")


class S3Server:
    """``weed mini`` on fixed free ports and one data folder, so it can stop and restart."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.data.mkdir(parents=True)
        self.config = folder / "s3.json"
        identity = {
            "name": "paperlake",
            "credentials": [{"accessKey": KEY_ID, "secretKey": SECRET}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        self.config.write_text(json.dumps({"identities": [identity]}))
        names = ["master", "volume", "filer", "s3", "admin", "webdav"]
        self.ports = {name: free_port() for name in names}
        self.grpc = {name: free_port() for name in names[:5]}
        self.extra = {f"s3.port.{name}": free_port() for name in ("iceberg", "lance")}
        self.log = folder / "weed.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> None:
        argv = [
            str(Path(sys.executable).parent / "weed"),
            "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-s3.config={self.config}",
            f"-bucket={BUCKET}",
            f"-debug.port={free_port()}",
            *(f"-{name}.port={port}" for name, port in self.ports.items()),
            *(f"-{name}.port.grpc={port}" for name, port in self.grpc.items()),
            *(f"-{name}={port}" for name, port in self.extra.items()),
        ]
        self.process = subprocess.Popen(
            argv, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
        )
        _wait("the S3 server", self._bucket_ready, self.log)

    def _bucket_ready(self) -> bool:
        """The bucket lists (signed, as the runs will ask) and every object in it reads: the
        server serves, has created the bucket and, after a restart, knows where its volumes
        are (the listing comes from the filer alone; until the volume server has reported to
        the master a read answered HTTP 500, "volume 1 not found", and a test's run failed)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"weed exited:\n{self.log.read_text()[-3000:]}")
        with duckdb.connect() as con:
            httpfs = Path(duckdb_extension_httpfs.__file__).parent
            con.execute(f"LOAD '{next(httpfs.glob('extensions/*/httpfs.duckdb_extension'))}'")
            con.execute(
                f"CREATE SECRET (TYPE s3, KEY_ID '{KEY_ID}', SECRET '{SECRET}', URL_STYLE "
                f"'path', USE_SSL false, ENDPOINT '127.0.0.1:{self.ports['s3']}')"
            )
            try:
                if con.execute(f"FROM glob('s3://{BUCKET}/**')").fetchall():
                    every = f"read_blob('s3://{BUCKET}/**')"
                    con.execute(f"SELECT sum(octet_length(content)) FROM {every}").fetchall()
            except duckdb.Error:
                return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        self.process = None


class Postgres:
    """A private PostgreSQL cluster (Debian's packaged binaries) owned by a non-root user."""

    def __init__(self, folder: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        assert found, "PostgreSQL is not installed: apt-get install postgresql (see .ci/run)"
        self.bin = Path(found[-1]).parent
        self.folder = folder
        self.port = free_port()
        self.log = folder / "postgres.log"
        self.databases = 0

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{argv}: {done.stderr}{done.stdout}"

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        data = self.folder / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "paperlake", "--auth=trust")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.log),
            "-w", "-t", str(int(READY_SECONDS)), "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop")

    def restart_command(self) -> str:
        """A shell command restarting the server (its connections dropped), for a hook."""
        prefix = "runuser -u postgres -- " if os.geteuid() == 0 else ""
        data = shlex.quote(str(self.folder / "data"))
        log = shlex.quote(str(self.log))
        return (
            f"{prefix}{shlex.quote(str(self.bin / 'pg_ctl'))} -D {data} -l {log} -m fast -w restart"
        )

    def new_database(self) -> str:
        """A fresh, empty catalog database; its ``postgres://`` address."""
        self.databases += 1
        name = f"lake{self.databases}"
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "paperlake", name)  # fmt: skip
        return f"postgres://paperlake@127.0.0.1:{self.port}/{name}"


def lake_env(s3: S3Server, catalog: str, prefix: str) -> dict[str, str]:
    """The variables that point a run at one shared lake: ``s3://BUCKET/prefix`` and
    ``catalog``, with the server's endpoint and credentials."""
    return {
        "PAPERLAKE_LAKE": f"s3://{BUCKET}/{prefix}",
        "PAPERLAKE_CATALOG": catalog,
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3.endpoint,
    }
