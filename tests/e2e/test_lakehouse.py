"""Years of daily runs on DuckLake: the 200 real days ingested one run per day, as the
schedule does, against the same days backfilled in one run; and a lost catalog rebuilt.

The runs take minutes, not 200 days, so every snapshot would be younger than the default
30-day retention; they run with retention 0, the steady state of any retention once the runs
are older than it (with N days, the files of the last N days' snapshots are also kept).
Bounds asserted after the 200 daily runs: per table, fewer than ``MERGE_AFTER_FILES`` small
files since its last merge, plus the merged file and what the last merge replaced (kept for
readers of the previous views until the next run); a catalog under ``CATALOG_BYTES`` and no
bigger than 1.5x its size after the 20th run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from paperlake import cli
from paperlake.cli import main
from paperlake.flows.ingest import ingest
from paperlake.lake import Warehouse
from paperlake.lake.maintenance import MERGE_AFTER_FILES
from paperlake.schemas.tables import PUBLISHED
from paperlake.views import public_views
from tests.conftest import ROOT, SAMPLE_CAPTURE, SAMPLES

SHARED = Path(os.environ.get("PAPERLAKE_SHARED", ROOT.parent / "shared"))
REAL = SHARED / "real"
CATALOG_BYTES = 16_000_000
VOLATILE = {"run_id", "ingested_at", "quarantined_at", "seen_at", "source_file"}

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]


def views(root: Path, ignore: frozenset[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every public view's rows (columns that name a run or a moment left out), sorted."""
    state = {}
    with duckdb.connect(str(root / "paperlake.duckdb"), read_only=True) as con:
        for view in public_views():
            columns = [c for (c, *_) in con.execute(f"describe {view}").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in VOLATILE | ignore)
            state[view] = sorted(con.execute(f"select {kept} from {view}").fetchall(), key=repr)
    return state


def data_files(root: Path) -> list[Path]:
    return [p for p in Warehouse(root).data_path.rglob("*") if p.is_file()]


def test_200_daily_runs_equal_one_backfill_with_bounded_files(tmp_path: Path) -> None:
    days = sorted(REAL.glob("*.txt"))
    assert len(days) == 200, f"expected the 200 real days in {REAL}"
    daily, backfill = tmp_path / "daily", tmp_path / "backfill"
    catalog = Warehouse(daily).catalog_path
    for number, day in enumerate(days, start=1):
        ingest(paths=[str(day)], warehouse=str(daily), retention_days=0)
        if number == 20:
            early = catalog.stat().st_size
    ingest(paths=[str(day) for day in days], warehouse=str(backfill))

    assert views(daily) == views(backfill)
    files = data_files(daily)
    size = catalog.stat().st_size
    print(f"200 daily runs: {len(files)} data files, catalog {size} bytes ({early} at day 20)")
    for table in PUBLISHED:
        mine = [f for f in files if table in f.relative_to(Warehouse(daily).data_path).parts]
        partitions = {f.parent for f in mine}
        print(f"  {table}: {len(mine)} files in {len(partitions)} folder(s)")
        assert len(mine) <= 2 * MERGE_AFTER_FILES * len(partitions), (table, len(mine))
    assert size < CATALOG_BYTES and size <= 1.5 * early
    assert len(Warehouse(daily).history()) <= 3  # older snapshots expired


def test_lost_then_damaged_catalog_is_a_clear_error_and_rebuild_restores_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    shutil.copytree(SAMPLES, landing)
    args = ["--warehouse", str(warehouse)]
    ingest_args = [*args, "ingest", str(landing), "--captured-on", SAMPLE_CAPTURE.isoformat()]
    assert main(ingest_args) == 0
    rebuilt = frozenset({"captured_on_source"})  # the rebuild reads dates from file names
    before = views(warehouse, rebuilt)
    files = sorted(p for p in warehouse.rglob("*") if p.is_file() and "catalog" not in p.name)
    catalog = Warehouse(warehouse).catalog_path

    saved = catalog.read_bytes()
    catalog.unlink()
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:  # said before Prefect: no flow, no traceback
        patch.setattr(cli, "_run", lambda *_: pytest.fail("the flow ran"))
        assert main(ingest_args) == 4
    assert "catalog.ducklake is missing" in capsys.readouterr().err
    catalog.write_bytes(saved[:4096] + b"\0" * 8192 + saved[12288:])
    assert main(ingest_args) == 4
    assert f"the lake catalog {catalog} cannot be read" in capsys.readouterr().err
    assert main([*args, "sql", "select 1"]) == 4  # readers exit as every command does
    assert f"the lake catalog {catalog} cannot be read" in capsys.readouterr().err
    after = sorted(p for p in warehouse.rglob("*") if p.is_file() and "catalog" not in p.name)
    assert after == files  # nothing deleted, nothing created

    old_data = {p.name for p in data_files(warehouse)}
    assert main([*args, "rebuild"]) == 0
    assert views(warehouse, rebuilt) == before
    [aside] = (warehouse / "lake").glob("before-rebuild-*")  # moved aside, not deleted
    assert {p.name for p in aside.rglob("*.parquet")} == old_data


def test_a_rebuild_of_a_lost_lake_keeps_each_pages_year(tmp_path: Path) -> None:
    """The lake's data files lost with its catalog, only the raw archive left: the rebuild
    dated every archived copy by its file time, the archiving day, so a page labelled
    "Mar 14" captured in 2025 moved to the rebuild's year.  The archive now dates each copy
    by its capture date."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    shutil.copytree(SAMPLES, landing)
    args = ["--warehouse", str(warehouse)]
    ingest_args = [*args, "ingest", str(landing), "--captured-on", SAMPLE_CAPTURE.isoformat()]
    assert main(ingest_args) == 0
    rebuilt = frozenset({"captured_on_source"})  # dated by the archived copies' times
    before = views(warehouse, rebuilt)
    shutil.rmtree(warehouse / "lake")
    assert main([*args, "rebuild"]) == 0
    assert views(warehouse, rebuilt) == before


def test_a_rebuild_says_which_never_read_inputs_it_cannot_list_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An input quarantined as never read has no bytes in the archive: the rebuild dropped
    its row, silently."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    shutil.copytree(SAMPLES, landing)
    (landing / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    args = ["--warehouse", str(warehouse)]
    assert main([*args, "ingest", str(landing)]) == 0
    capsys.readouterr()
    assert main([*args, "rebuild"]) == 0
    said = "not rebuilt: 1 input(s) quarantined as never read, whose bytes the archive does "
    assert said in capsys.readouterr().out
