"""The built wheel, installed into a fresh venv, runs every command from another directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.e2e


def uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"
    return str(found) if found.exists() else shutil.which("uv") or pytest.skip("uv not found")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the locked dependencies and the wheel (not the repository)."""
    work = tmp_path_factory.mktemp("install")
    venv, requirements = work / "venv", work / "requirements.txt"
    run(uv(), "build", "--wheel", "-o", str(work / "dist"))
    [wheel] = (work / "dist").glob("paperlake-*.whl")
    run(uv(), "export", "--frozen", "--no-dev", "--no-emit-project", "-o", str(requirements))
    run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    run(uv(), "pip", "install", "--python", python, "-r", str(requirements), str(wheel))
    return venv


def run(*argv: str) -> None:
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"{argv}: {done.stderr}"


def test_wheel_ships_one_package_with_its_data(installed: Path) -> None:
    [site] = installed.glob("lib/python*/site-packages")
    ours = {"paperlake", "flows", "schemas", "sql"} & {p.name for p in site.iterdir()}
    assert ours == {"paperlake"}
    package = site / "paperlake"
    assert (package / "taxonomy.yaml").is_file()
    assert (package / "sql" / "papers.sql").is_file()
    assert (package / "sql" / "staging" / "stg_daily_papers.sql").is_file()
    assert (package / "flows" / "ingest.py").is_file()
    assert not (package / "flows").is_symlink()


def test_every_command_runs_from_another_directory(installed: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLES, landing)
    (landing / "broken.txt").write_bytes(b"<html>not a dump</html>")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PAPERLAKE_WAREHOUSE"] = str(tmp_path / "wh")

    def paperlake(*argv: str) -> str:
        done = subprocess.run(
            [str(installed / "bin" / "paperlake"), *argv],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "loaded 2 dump(s)" in paperlake("ingest", str(landing), "--captured-on", "2025-03-14")
    rows = json.loads(
        paperlake("sql", "select count(*) as n from repeated_listings", "--format", "json")
    )
    assert rows == [{"n": 7}]
    assert "large language models" in paperlake("report")
    assert "Federated" in paperlake("search", "federated learning", "--limit", "3")
    assert "broken.txt" in paperlake("quarantine", "--format", "csv")
    assert sorted(p.name for p in elsewhere.iterdir()) == []
