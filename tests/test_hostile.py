"""Every hostile input in the catalogue, through the real flow in one landing folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from paperlake.cli import EXIT_FAILED, main
from paperlake.config import DASHBOARD_NAME
from paperlake.discover import display_path
from paperlake.flows.ingest import RunSummary, ingest
from paperlake.lake import ARCHIVE_MODE, LockRefused, Warehouse
from tests.conftest import SAMPLES, query
from tests.hostile import CATALOGUE, ROOT_ONLY_SKIPPED, Hostile


@pytest.fixture(scope="module")
def hostile_run(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> tuple[Path, Path, RunSummary]:
    root = tmp_path_factory.mktemp("hostile")
    landing, warehouse = root / "landing", root / "warehouse"
    landing.mkdir()
    good = landing / "000_9cf45ac0ac824760.txt"
    good.write_bytes((SAMPLES / good.name).read_bytes())
    for hostile in CATALOGUE:
        hostile.make(landing / hostile.file_name)
    summary = ingest(paths=[str(landing)], warehouse=str(warehouse))
    return landing, warehouse, summary


def test_catalogue_is_large_and_named_uniquely() -> None:
    assert len(CATALOGUE) >= 25
    assert len({h.name for h in CATALOGUE}) == len(CATALOGUE)
    assert len({h.file_name for h in CATALOGUE}) == len(CATALOGUE)


def test_the_run_succeeds_and_good_input_lands(hostile_run: tuple[Path, Path, RunSummary]) -> None:
    _, warehouse, summary = hostile_run
    expected_loads = 1 + sum(1 for h in CATALOGUE if h.outcome[0] in ("load", "entry"))
    assert summary.dumps_loaded == expected_loads
    hidden_link_target = 1  # linked.txt's target, .public-target
    skipped = sum(1 for h in CATALOGUE if h.outcome[0] == "skip") + hidden_link_target
    assert summary.skipped_in_progress == skipped
    assert query(warehouse, "select n_papers from dumps where source_file like '%000_9cf4%'") == [
        (55,)
    ]


@pytest.mark.parametrize("hostile", CATALOGUE, ids=lambda h: h.name)
def test_hostile_input(hostile: Hostile, hostile_run: tuple[Path, Path, RunSummary]) -> None:
    landing, warehouse, _ = hostile_run
    path = display_path(str(landing / hostile.file_name))
    kind, expected, detail = hostile.outcome
    rows = query(
        warehouse, "select scope, reason, detail from quarantine where source_file = ?", [path]
    )
    listed = query(warehouse, "select n_papers from dumps where source_file = ?", [path])
    if kind == "file":
        assert [(r[0], r[1]) for r in rows] == [("file", expected)], rows
        assert detail in rows[0][2], rows[0][2]
        assert listed == []
    elif kind == "entry":
        assert [(r[0], r[1]) for r in rows] == [("entry", expected)], rows
        assert detail in rows[0][2], rows[0][2]
        assert len(listed) == 1 and listed[0][0] >= 1
    elif kind == "load":
        assert rows == []
        assert listed == [(expected,)]
    else:
        assert rows == [] and listed == []
        assert query(warehouse, "select * from internal.stg_sources where path = ?", [path]) == []


def test_every_read_input_is_archived_byte_for_byte(
    hostile_run: tuple[Path, Path, RunSummary],
) -> None:
    _, warehouse, _ = hostile_run
    for path, dump_id in query(warehouse, "select path, dump_id from internal.stg_sources"):
        archived = warehouse / f"raw/{dump_id[:2]}/{dump_id}.txt"
        digest = hashlib.sha256(archived.read_bytes()).hexdigest()
        assert digest == dump_id
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == dump_id


def test_landing_names_never_decide_where_anything_is_written(
    hostile_run: tuple[Path, Path, RunSummary],
) -> None:
    _, warehouse, _ = hostile_run
    for path in warehouse.rglob("*"):
        if path.is_file():
            rel = path.relative_to(warehouse).as_posix()
            top = {"raw", "lake", "paperlake.duckdb", ".lock", DASHBOARD_NAME}
            assert rel.split("/")[0] in top
            if rel.startswith("raw/"):
                assert len(path.stem) == 64 and path.suffix == ".txt"


def test_landing_folder_is_left_untouched(hostile_run: tuple[Path, Path, RunSummary]) -> None:
    landing, _, _ = hostile_run
    assert sorted(p.name for p in landing.iterdir()) == sorted(
        [h.file_name for h in CATALOGUE]
        + ["000_9cf45ac0ac824760.txt", "loop.txt.other", ".public-target"]
    )


def test_archived_copies_are_not_world_readable(
    hostile_run: tuple[Path, Path, RunSummary],
) -> None:
    """Whatever the input's permissions (``linked.txt`` links to a 0644 file)."""
    landing, warehouse, _ = hostile_run
    [(archived,)] = query(
        warehouse,
        "select archive_path from dumps where source_file = ?",
        [str(landing / "linked.txt")],
    )
    assert (landing / ".public-target").stat().st_mode & 0o777 == 0o644
    modes = {path.stat().st_mode & 0o777 for path in (warehouse / "raw").rglob("*.txt")}
    assert (warehouse / archived).stat().st_mode & 0o777 == ARCHIVE_MODE
    assert modes == {ARCHIVE_MODE}


def test_symlinked_lock_is_refused_and_its_target_untouched(
    tmp_path: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    root = tmp_path / "wh"
    root.mkdir()
    (root / ".lock").symlink_to(victim)
    with pytest.raises(LockRefused, match=r"\.lock is a symbolic link"), Warehouse(root).lock():
        pass
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.txt").write_bytes((SAMPLES / "000_9cf45ac0ac824760.txt").read_bytes())
    assert main(["--warehouse", str(root), "ingest", str(landing)]) == EXIT_FAILED
    assert ".lock is a symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in root.iterdir()) == [".lock"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file without read permission")
def test_no_read_permission(tmp_path: Path, prefect_harness: None) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    ROOT_ONLY_SKIPPED.make(landing / ROOT_ONLY_SKIPPED.file_name)
    ingest(paths=[str(landing)], warehouse=str(tmp_path / "wh"))
    [(reason, detail)] = query(tmp_path / "wh", "select reason, detail from quarantine")
    assert reason == "unreadable" and "Permission denied" in detail


def test_thousands_of_files(tmp_path: Path, prefect_harness: None) -> None:
    from tests.dumps import dump_bytes

    landing = tmp_path / "landing"
    landing.mkdir()
    for i in range(2000):
        (landing / f"2024-01-01_{i:04d}.txt").write_bytes(
            dump_bytes(
                [(f"Paper {i}", "A short abstract."), ("Shared paper", "Same.")], label="Dec 31"
            )
        )
    summary = ingest(paths=[str(landing)], warehouse=str(tmp_path / "wh"), batch_size=300)
    assert summary.dumps_loaded == 2000
    assert query(tmp_path / "wh", "select n_dumps from papers where title = 'Shared paper'") == [
        (2000,)
    ]


def test_file_that_grows_after_a_run_read_it(tmp_path: Path, prefect_harness: None) -> None:
    """A dump captured mid-write loads what it had; the completed file loads as new bytes."""
    from tests.dumps import PAPERS, dump_bytes

    landing = tmp_path / "landing"
    landing.mkdir()
    live = landing / "2025-03-14_live.txt"
    full = dump_bytes(PAPERS)
    partial = full[: full.index(b"Order Matters")]
    live.write_bytes(partial)
    first = ingest(paths=[str(landing)], warehouse=str(tmp_path / "wh"))
    with open(live, "ab") as handle:
        handle.write(full[len(partial) :])
    os.utime(live, (live.stat().st_atime, live.stat().st_mtime + 1))
    second = ingest(paths=[str(landing)], warehouse=str(tmp_path / "wh"))
    assert (first.dumps_loaded, second.dumps_loaded) == (1, 1)
    rows = query(
        tmp_path / "wh", "select n_bytes, n_papers, archive_path from dumps order by n_bytes"
    )
    assert [(r[0], r[1]) for r in rows] == [(len(partial), 2), (len(full), 3)]
    for n_bytes, _, archive in rows:
        assert (tmp_path / "wh" / archive).read_bytes() == full[:n_bytes]


def test_name_not_utf8_keeps_its_reason_on_replay(tmp_path: Path, prefect_harness: None) -> None:
    from paperlake.flows.ingest import replay
    from tests.hostile import NOT_UTF8_NAME

    landing, root = tmp_path / "landing", tmp_path / "wh"
    landing.mkdir()
    (landing / NOT_UTF8_NAME).write_bytes((SAMPLES / "000_9cf45ac0ac824760.txt").read_bytes())
    ingest(paths=[str(landing)], warehouse=str(root))
    replay(warehouse=str(root))
    [(source, reason, detail)] = query(root, "select source_file, reason, detail from quarantine")
    assert source == display_path(str(landing / NOT_UTF8_NAME)) and source.endswith(
        "dump-\\xff\\xfe-name.txt"
    )
    assert reason == "unreadable" and "file name is not valid UTF-8: byte 0xff" in detail
