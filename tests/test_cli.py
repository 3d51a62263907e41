"""The ``paperlake`` command: ingest, report, read-only SQL, quarantine."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no warehouse at .*run `paperlake ingest PATH` first"):
        main(["--warehouse", str(tmp_path / "none"), "sql", "select 1"])


def test_serve_without_a_server_explains(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert main(["serve"]) == 2
    assert "prefect server start" in capsys.readouterr().err


def test_warehouse_flag_before_or_after_the_command(
    cli_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["--warehouse", str(cli_warehouse), "sql", "select count(*) n from dumps"],
        ["sql", "select count(*) n from dumps", "--warehouse", str(cli_warehouse)],
    ):
        assert main([*argv, "--format", "csv"]) == 0
        assert capsys.readouterr().out.splitlines() == ["n", "2"]
