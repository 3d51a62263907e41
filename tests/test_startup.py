"""The read-only commands start without the heavy libraries (no timing: see bench/startup.py).

Each command runs in a fresh interpreter against a warehouse built without Prefect (empty
tables, real views), and reports which heavy top-level packages it imported."""

from __future__ import annotations

import json
import os
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
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1])))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""

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
    store.root.mkdir(parents=True)
    build_database(store, store.current())
    return store.root


def imported(argv: list[str], warehouse: Path) -> tuple[object, set[str]]:
    env = {**os.environ, "PAPERLAKE_WAREHOUSE": str(warehouse)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(sorted(HEAVY)), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return report["code"], set(report["heavy"])


@pytest.mark.parametrize("command", list(READ_COMMANDS))
def test_read_commands_import_no_heavy_library(command: str, empty_warehouse: Path) -> None:
    argv, allowed = READ_COMMANDS[command]
    code, heavy = imported(argv, empty_warehouse)
    assert code in (0, None)
    assert heavy <= allowed, f"`paperlake {' '.join(argv)}` imported {sorted(heavy - allowed)}"


def test_stale_views_are_rebuilt_by_a_reader(empty_warehouse: Path, tmp_path: Path) -> None:
    """The fast path still notices a moved warehouse and rebuilds its views."""
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "paperlake.duckdb").write_bytes((empty_warehouse / "paperlake.duckdb").read_bytes())
    code, heavy = imported(["sql", "select count(*) from dumps"], moved)
    assert code == 0
    assert "prefect" not in heavy
    from paperlake.views import database_version

    assert database_version(Warehouse(moved)) == 0
