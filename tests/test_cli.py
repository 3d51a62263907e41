"""The ``paperlake`` command: ingest, report, read-only SQL, quarantine."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperlake import cli
from paperlake.cli import main
from tests.conftest import SAMPLES


@pytest.fixture
def cli_warehouse(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Path:
    root = tmp_path / "wh"
    landing = tmp_path / "landing"
    landing.mkdir()
    for dump in SAMPLES.iterdir():
        (landing / dump.name).write_bytes(dump.read_bytes())
    (landing / "broken.txt").write_bytes(b"<html><body>oops</body></html>")
    code = main(["--warehouse", str(root), "ingest", str(landing), "--captured-on", "2025-03-14"])
    out = capsys.readouterr().out
    assert code == 0
    assert "loaded 2 dump(s)" in out and "QUARANTINED: 1 file(s)" in out
    return root


def test_strict_prints_the_summary_then_fails_with_exit_3(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "broken.txt").write_bytes(b"<html><body>oops</body></html>")
    argv = ["--warehouse", str(tmp_path / "wh"), "ingest", str(landing), "--strict"]
    assert main(argv) == cli.EXIT_QUARANTINED
    out, err = capsys.readouterr()
    # the summary on stdout, as a run that succeeds prints it (it printed nothing)
    assert "QUARANTINED: 1 file(s)" in out and "broken.txt" in out, out
    assert "paperlake: --strict: 1 file(s)" in err


def test_sql_and_report(
    cli_warehouse: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # any working directory
    monkeypatch.setenv("PAPERLAKE_WAREHOUSE", str(cli_warehouse))
    assert main(["sql", "select count(*) as n from repeated_listings", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "7"]
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert "large language models" in out and "Order Matters" in out and "CodeGen2" in out


@pytest.mark.parametrize(
    "statement",
    [
        "drop view papers",
        "create table t as select 1",
        "insert into x values (1)",
        "copy (select 1) to '/tmp/paperlake-escape.csv'",
        "attach '/tmp/other.duckdb' as o",
        "select 1; delete from papers",
    ],
)
def test_sql_refuses_writes(
    cli_warehouse: Path, statement: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--warehouse", str(cli_warehouse), "sql", statement]) == 2
    assert "paperlake sql is read-only" in capsys.readouterr().err
    assert not Path("/tmp/paperlake-escape.csv").exists()


def test_sql_error_is_reported_not_raised(
    cli_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--warehouse", str(cli_warehouse), "sql", "select * from nope"]) == 1
    assert "query failed" in capsys.readouterr().err


def test_quarantine_lists_reasons(cli_warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--warehouse", str(cli_warehouse), "quarantine", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "html" in out and "broken.txt" in out
    header, row = out.splitlines()
    assert header.split(",")[4] == "dump" and len(row.split(",")[4]) == 12  # tells bytes apart


def test_missing_warehouse_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--warehouse", str(tmp_path / "none"), "sql", "select 1"]) == 4
    err = capsys.readouterr().err
    assert re.search(r"no warehouse at .*run `paperlake ingest PATH` first", err), err


def paperlake(*argv: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process (Prefect's settings are per process: a test harness
    active in this one would answer for any API URL)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    return subprocess.run(
        [sys.executable, "-m", "paperlake.cli", *argv],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_serve_without_a_server_explains(tmp_path: Path) -> None:
    done = paperlake("serve", "--landing", str(tmp_path), PREFECT_HOME=str(tmp_path))
    assert done.returncode == 2
    assert "prefect server start" in done.stderr


def test_warehouse_flag_before_or_after_the_command(
    cli_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["--warehouse", str(cli_warehouse), "sql", "select count(*) n from dumps"],
        ["sql", "select count(*) n from dumps", "--warehouse", str(cli_warehouse)],
    ):
        assert main([*argv, "--format", "csv"]) == 0
        assert capsys.readouterr().out.splitlines() == ["n", "2"]


def test_a_mistyped_path_exits_2_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "wh"
    typo = tmp_path / "landnig"
    assert main(["--warehouse", str(root), "ingest", str(SAMPLES), str(typo)]) == 2
    err = capsys.readouterr().err
    assert f"no such file or folder: {typo}" in err and "nothing was ingested" in err
    assert not root.exists()  # no run, so no quarantine row and no warehouse


def test_serve_refuses_a_mistyped_landing_folder_or_cron_before_scheduling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scheduled, a mistyped folder made every daily run "complete" loading nothing."""
    typo = tmp_path / "landnig"
    assert main(["serve", "--landing", str(typo)]) == 2
    err = capsys.readouterr().err
    assert f"no such file or folder: {typo}" in err and "nothing was scheduled" in err
    monkeypatch.setattr(cli, "_prefect_api", lambda scheduling: 0)  # as if a server answered
    assert main(["serve", "--landing", str(tmp_path), "--cron", "every day"]) == 2
    assert 'Invalid cron string: "every day": nothing was scheduled' in capsys.readouterr().err


@pytest.mark.parametrize("command", ["replay", "retopic"])
def test_replay_and_retopic_need_a_warehouse(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """They created an empty warehouse and said every input was already in it (also once
    ``serve`` had left its lock there)."""
    from paperlake.lake import Warehouse

    root = tmp_path / "wh"
    assert main(["--warehouse", str(root), command]) == 4
    with Warehouse(root).scheduling():
        pass
    assert main(["--warehouse", str(root), command]) == 4
    assert f"no warehouse at {root}: run `paperlake ingest PATH` first" in capsys.readouterr().err
    assert {p.name for p in root.iterdir()} <= {".lock", ".serve.lock"}  # no lake made


def test_retopic_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["retopic", "--help"])
    assert done.value.code == 0
    assert "--taxonomy" in capsys.readouterr().out


@pytest.mark.parametrize("zone", ["Mars/Olympus", "right/UTC", "posixrules"])
def test_serve_refuses_an_unknown_timezone(
    zone: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``right/UTC`` and ``posixrules`` open as zone files but are no IANA names: Prefect
    refused them with a pydantic dump."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    with pytest.raises(SystemExit) as done:
        main(["serve", "--timezone", zone])
    assert done.value.code == 2
    assert f"unknown timezone {zone!r}" in capsys.readouterr().err


def test_a_second_serve_of_a_warehouse_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It replaced the first's schedule, and stopping either paused the deployment both
    served: the other ran nothing, silently."""
    from paperlake.lake import Warehouse

    monkeypatch.setattr(cli, "_prefect_api", lambda scheduling: 0)  # as if a server answered
    root = tmp_path / "wh"
    with Warehouse(root).scheduling():
        assert main(["--warehouse", str(root), "serve", "--landing", str(tmp_path)]) == 75
    assert f"another `paperlake serve` schedules {root} since " in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "command", [["ingest", str(SAMPLES)], ["replay"], ["serve", "--landing", str(SAMPLES)]]
)
def test_an_unreachable_api_is_a_clear_error(command: list[str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api"
    root = tmp_path / "wh"
    done = paperlake("--warehouse", str(root), *command, PREFECT_API_URL=url)
    assert done.returncode == 69
    assert f"the Prefect API at PREFECT_API_URL={url} does not answer" in done.stderr
    assert not root.exists()


def test_an_unresponsive_api_fails_within_the_bound(tmp_path: Path) -> None:
    """A server that accepts connections and never answers: bounded, not a hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api"
        start = time.monotonic()
        done = paperlake(
            "--warehouse",
            str(tmp_path / "wh"),
            "ingest",
            str(SAMPLES),
            PREFECT_API_URL=url,
            timeout=cli.API_TIMEOUT_SECONDS + 60,
        )
        waited = time.monotonic() - start
    assert done.returncode == 69
    assert "timed out" in done.stderr
    assert waited < cli.API_TIMEOUT_SECONDS + 30  # the bound, plus the interpreter's start


@pytest.mark.parametrize("command", ["maintain", "migrate", "rebuild"])
def test_every_writing_command_says_busy_with_exit_75(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paperlake.lake import Warehouse

    store = Warehouse(tmp_path / "wh")
    with store.lock():  # another run holds the warehouse
        assert main(["--warehouse", str(store.root), command]) == cli.EXIT_BUSY
    assert "another run holds the warehouse" in capsys.readouterr().err
    assert sorted(p.name for p in store.root.iterdir()) == [".lock"]  # nothing moved or made


@pytest.mark.parametrize(
    "command",
    [["ingest", str(SAMPLES)], ["replay"], ["retopic"]],
    ids=["ingest", "replay", "retopic"],
)
def test_a_run_refused_for_a_busy_warehouse_says_so_before_prefect_starts(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paperlake.lake import Warehouse

    store = Warehouse(tmp_path / "wh")
    with store.lock():  # another run holds the warehouse
        assert main(["--warehouse", str(store.root), *command]) == cli.EXIT_BUSY
    err = capsys.readouterr().err
    assert err.startswith("paperlake: another run holds the warehouse") and " since " in err
    # Refused before Prefect: no temporary server said to start, no flow run's traceback.
    assert "Traceback" not in err and "temporary server" not in err, err
    assert sorted(p.name for p in store.root.iterdir()) == [".lock"]


@pytest.mark.parametrize("command", ["migrate", "rebuild"])
def test_local_only_commands_refuse_shared_storage(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PAPERLAKE_LAKE", "s3://lake/papers")
    monkeypatch.setenv("PAPERLAKE_CATALOG", "postgres://paperlake@127.0.0.1:9/lake")  # no server
    root = tmp_path / "machine"
    assert main(["--warehouse", str(root), command]) == cli.EXIT_USAGE
    assert f"`{command}` works on a local warehouse only" in capsys.readouterr().err
    assert not root.exists()  # nothing moved aside, no catalog, not even the lock


def test_a_symlinked_lock_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, target = tmp_path / "wh", tmp_path / "target"
    root.mkdir()
    target.write_text("not ours")
    (root / ".lock").symlink_to(target)
    assert main(["--warehouse", str(root), "maintain"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("paperlake: ") and "Traceback" not in err
    assert target.read_text() == "not ours"


def test_a_warehouse_that_cannot_be_written_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only file system failed the lock's open with a traceback (root writes through
    permissions, so the test puts the warehouse below a file: the same OSError path)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    root = blocker / "wh"
    assert main(["--warehouse", str(root), "maintain"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith(f"paperlake: cannot write the warehouse's lock {root}/.lock: ")
    assert "Traceback" not in err


def test_a_query_a_stop_signal_interrupted_exits_as_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB reports a signal that arrived mid-query as its own ``Query interrupted``: the
    run still exits as stopped (it printed a traceback, exit 1), and no task is retried
    past the signal (a retry had once hung on a half-opened database)."""
    from paperlake import process
    from paperlake.flows.tasks import not_stopping

    def interrupted(*_: object) -> int:
        process.stop_received(15)
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(process, "_signals", [])
    monkeypatch.setattr(cli, "_prefect_api", lambda: 0)
    monkeypatch.setattr(cli, "_temporary_server", lambda: None)
    monkeypatch.setattr(cli, "_run", interrupted)
    assert not_stopping()
    assert cli._run_flow("ingest", warehouse=str(tmp_path / "wh")) == 143
    assert "SIGTERM: run stopped, nothing published" in capsys.readouterr().err
    assert not not_stopping()
    monkeypatch.setattr(process, "_signals", [])
    monkeypatch.setattr(cli, "_run", lambda *_: (_ for _ in ()).throw(RuntimeError("other")))
    with pytest.raises(RuntimeError, match="other"):  # without a signal: the error itself
        cli._run_flow("ingest", warehouse=str(tmp_path / "wh"))


def test_only_a_folder_with_nothing_of_a_warehouse_is_no_warehouse(tmp_path: Path) -> None:
    """An old-layout warehouse or one whose lake was lost is one: its own errors say what to
    do (migrate, rebuild), not "run `paperlake ingest PATH` first"."""
    assert cli._no_warehouse(str(tmp_path / "missing"))
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / ".lock").write_text("")
    assert cli._no_warehouse(str(tmp_path / "locked"))
    for kept in ("_manifests", "raw"):
        (tmp_path / kept / kept).mkdir(parents=True)
        assert not cli._no_warehouse(str(tmp_path / kept))


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["search", "diffusion", "--limit", "-1"], "expected 1 or more, got -1"),
        (["sql", "select 1", "--max-rows", "-1"], "expected 1 or more, got -1"),
        (["history", "--limit", "0"], "expected 1 or more, got 0"),
        (["quarantine", "--max-rows", "x"], "expected a whole number, got 'x'"),
        (["ingest", "in", "--batch-size", "0"], "expected 1 or more, got 0"),
        (["sql", "select 1", "--timeout", "nan"], "expected a finite number, 0 or more, got nan"),
        (["maintain", "--retention-days", "-1"], "expected a finite number, 0 or more, got -1"),
        (["ingest", "in", "--retention-days", "1e9"], "expected 36,500 days or fewer, got 1e9"),
        (["sql", "select 1", "--timeout", "1e10"], "s or less, got 1e10"),
    ],
)
def test_a_count_or_duration_out_of_range_exits_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A negative limit was a traceback ("LIMIT/OFFSET cannot be negative"); ``history
    --limit 0`` listed every snapshot."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
