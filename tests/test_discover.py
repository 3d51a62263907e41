"""The discover stage: which files under the given paths are inputs, and which are not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from paperlake.discover import Candidate, chunks, discover, printable


def test_chunks_are_capped_by_count_and_bytes() -> None:
    files = [Candidate(f"/d/{i}", size, 0) for i, size in enumerate([40, 40, 40, 90, 10, 10, 10])]
    sizes = [[c.n_bytes for c in group] for group in chunks(files, max_count=3, max_bytes=100)]
    assert sizes == [[40, 40], [40], [90, 10], [10, 10]]
    assert [len(g) for g in chunks(files, max_count=2, max_bytes=1000)] == [2, 2, 2, 1]
    assert chunks([Candidate("/d/huge", 500, 0)], max_count=3, max_bytes=100) == [
        [Candidate("/d/huge", 500, 0)]
    ]
    assert chunks([], max_count=3, max_bytes=100) == []


def test_inputs_in_progress_and_hidden_files_wait(tmp_path: Path) -> None:
    for name in ("a.txt", "b.part", ".hidden", "c.crdownload", "d"):
        (tmp_path / name).write_text("x")
    found = discover([tmp_path], {})
    assert [Path(c.path).name for c in found.candidates] == ["a.txt", "d"]
    waiting = sorted(Path(p).name for p in found.skipped_in_progress)
    assert waiting == [".hidden", "b.part", "c.crdownload"]
    assert found.unreadable == []


def test_unchanged_files_are_skipped_without_reading(tmp_path: Path) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("x")
    new.write_text("y")
    info = old.stat()
    found = discover([tmp_path], {str(old): (info.st_size, info.st_mtime_ns)})
    assert [c.path for c in found.candidates] == [str(new)]
    assert found.skipped_unchanged == 1
    os.utime(old, ns=(info.st_atime_ns, info.st_mtime_ns + 1))  # touched: read again
    again = discover([tmp_path], {str(old): (info.st_size, info.st_mtime_ns)})
    assert sorted(c.path for c in again.candidates) == [str(new), str(old)]


def test_what_cannot_be_a_dump_is_reported_not_lost(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "sub").mkdir(parents=True)
    os.mkfifo(landing / "pipe")
    (landing / "folder link").symlink_to(landing / "sub", target_is_directory=True)
    (landing / os.fsdecode(b"bad\xffname.txt")).write_text("x")
    found = discover([landing, tmp_path / "missing"], {})
    reasons = {Path(u.path).name: u.detail for u in found.unreadable}
    assert reasons["pipe"] == "not a regular file: a named pipe"
    assert reasons["folder link"].startswith("not a regular file: a folder")
    assert reasons["bad\\xffname.txt"].startswith("file name is not valid UTF-8")
    assert found.candidates == []


def test_the_warehouse_itself_is_never_an_input(tmp_path: Path) -> None:
    (tmp_path / "warehouse" / "raw").mkdir(parents=True)
    (tmp_path / "warehouse" / "raw" / "x.txt").write_text("x")
    (tmp_path / "day.txt").write_text("x")
    (tmp_path / "warehouse2").mkdir()  # its name starts as the warehouse's: an input
    (tmp_path / "warehouse2" / "next.txt").write_text("x")
    found = discover([tmp_path], {}, exclude=tmp_path / "warehouse")
    assert [Path(c.path).name for c in found.candidates] == ["day.txt", "next.txt"]


def test_a_path_that_cannot_be_looked_at_is_reported_and_the_others_read(
    tmp_path: Path,
) -> None:
    """A given path whose status cannot even be asked (here a name over the system's limit;
    a folder without permission alike) is reported, and the other paths still discovered."""
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "day.txt").write_text("x")
    too_long = tmp_path / ("x" * 300) / "y"
    found = discover([too_long, landing], {})
    assert [Path(c.path).name for c in found.candidates] == ["day.txt"]
    [(path, detail)] = [(u.path, u.detail) for u in found.unreadable]
    assert path == str(too_long) and detail.startswith("cannot list folder:")


def test_a_folder_that_cannot_be_listed_is_reported_and_the_rest_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subfolder the run may not list (a root-only ``lost+found`` in a landing folder that
    is a mount point) is reported; the files beside and below the others still load.  Before,
    the whole landing folder was reported instead, and none of its files loaded."""
    landing = tmp_path / "landing"
    (landing / "lost+found").mkdir(parents=True)
    (landing / "lost+found" / "hidden.txt").write_text("x")
    (landing / "2025").mkdir()
    (landing / "2025" / "day.txt").write_text("x")
    (landing / "today.txt").write_text("x")
    scandir = os.scandir

    def refuse(path: str) -> object:
        if os.path.basename(path) == "lost+found":
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    found = discover([landing], {})
    assert sorted(Path(c.path).name for c in found.candidates) == ["day.txt", "today.txt"]
    assert [(u.path, u.detail) for u in found.unreadable] == [
        (str(landing / "lost+found"), "cannot list folder: Permission denied")
    ]


def test_a_landing_path_through_a_link_to_the_warehouse_reads_none_of_it(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    (warehouse / "lake").mkdir(parents=True)
    (warehouse / "lake" / "catalog.ducklake").write_text("x")
    (tmp_path / "link").symlink_to(warehouse)
    found = discover([tmp_path / "link"], {}, exclude=warehouse)
    assert found.candidates == [] and found.unreadable == []


def test_a_quarantined_name_cannot_forge_the_run_summary() -> None:
    """A file name with an escape sequence and a newline is printed escaped: one line, no
    colour, no fake "loaded 99 dump(s)" line."""
    from paperlake.flows.report import RunSummary

    name = "/land/2025-03-06_\x1b[31mRED\x1b[0m\nloaded 99 dump(s).txt"
    summary = RunSummary("run", "/wh", files_quarantined=1, quarantined_files=[name])
    assert (
        summary.lines()[-1] == "    /land/2025-03-06_\\x1b[31mRED\\x1b[0m\\nloaded 99 dump(s).txt"
    )
    assert printable("é 日本 \u202e") == "é 日本 \\u202e"


def test_a_file_modified_since_the_settle_time_is_left_for_later(tmp_path: Path) -> None:
    """A scheduled run's landing file written in the last minute may be a paused download:
    it loaded as its first half.  Given by its own path, a file is read whatever its age."""
    old, fresh = tmp_path / "2025-03-13_old.txt", tmp_path / "2025-03-14_fresh.txt"
    ahead = tmp_path / "2025-03-15_ahead.txt"  # from a machine whose clock is an hour ahead
    for path in (old, fresh, ahead):
        path.write_bytes(b"Mar 14")
    os.utime(old, (time.time() - 120, time.time() - 120))
    os.utime(ahead, (time.time() + 3600, time.time() + 3600))
    now, minute = time.time_ns(), 60 * 10**9
    window = (now - minute, now + minute)
    found = discover([tmp_path], {}, unsettled=window)
    assert sorted(Path(c.path).name for c in found.candidates) == [old.name, ahead.name]
    assert found.skipped_in_progress == [str(fresh)]
    assert [c.path for c in discover([fresh], {}, unsettled=window).candidates] == [str(fresh)]
