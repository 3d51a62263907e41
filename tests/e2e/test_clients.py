"""The serving database opens in other DuckDB releases (each in its own venv, from PyPI) and
every public view and macro answers there as it does here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from paperlake.views import open_read_only, public_views

pytestmark = pytest.mark.e2e

CLIENTS = ["1.0.0", "1.4.5", "1.5.6", "2.0.1"]
"""The oldest release of the storage format it is written in, the last two 1.x lines (the
DuckDB CLI and Evidence's connector were on 1.5.6), and the newest."""
CACHE = Path(os.environ.get("PAPERLAKE_CLIENT_CACHE", Path(tempfile.gettempdir()) / "paperlake"))
"""Venvs are kept here between runs (never in the repository)."""

QUERIES = [f'select count(*) from "{view}"' for view in public_views()] + [
    "select count(*) from search_papers(['language', 'model'], k := 5)",
    "select count(*) from trending_topics_over(30)",
]

CLIENT_SCRIPT = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
main = con.execute(
    "select view_name, comment from duckdb_views() where schema_name = 'main' and not internal"
).fetchall()
counts = [con.execute(query).fetchone()[0] for query in json.loads(sys.argv[2])]
print(json.dumps({"version": duckdb.__version__, "views": sorted(v for v, _ in main),
                  "undescribed": sorted(v for v, c in main if not c), "counts": counts}))
"""


def client(version: str) -> Path:
    venv = CACHE / f"duckdb-{version}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"duckdb=={version}"], check=True
        )
    return python


@pytest.mark.parametrize("version", CLIENTS)
def test_client_reads_every_public_view(version: str, sample_warehouse: Path) -> None:
    with open_read_only(sample_warehouse) as con:
        expected = [con.execute(query).fetchall()[0][0] for query in QUERIES]
    assert expected[public_views().index("papers")] == 108
    done = subprocess.run(
        [
            str(client(version)),
            "-c",
            CLIENT_SCRIPT,
            str(sample_warehouse / "paperlake.duckdb"),
            json.dumps(QUERIES),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["version"] == version
    assert answer["views"] == sorted(public_views())
    assert answer["undescribed"] == []  # a BI tool lists each view's comment beside it
    assert answer["counts"] == expected
