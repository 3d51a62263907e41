"""The archive stage: each input read once, kept byte for byte under its hash."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperlake import archive
from paperlake.archive import archive_inputs, capture_date, quarantined_inputs
from paperlake.discover import Candidate, Unreadable
from paperlake.lake import ARCHIVE_MODE, Warehouse


def candidate(path: Path) -> Candidate:
    info = path.stat()
    return Candidate(str(path), info.st_size, info.st_mtime_ns)


def test_capture_date_from_override_then_name_then_mtime(tmp_path: Path) -> None:
    named, plain = tmp_path / "2025-03-14_daily.txt", tmp_path / "daily.txt"
    for path in (named, plain):
        path.write_text("x")
        os.utime(path, (1.7e9, 1.7e9))
    mtime_day = datetime.fromtimestamp(1.7e9, UTC).date()
    assert capture_date(candidate(named), date(2025, 1, 2)) == (date(2025, 1, 2), "override")
    assert capture_date(candidate(named), None) == (date(2025, 3, 14), "file_name")
    assert capture_date(candidate(plain), None) == (mtime_day, "mtime")


def test_inputs_are_archived_and_a_failed_read_is_reported(tmp_path: Path) -> None:
    store = Warehouse(tmp_path / "warehouse")
    good, gone = tmp_path / "good.txt", tmp_path / "gone.txt"
    good.write_bytes(b"some bytes")
    gone.write_bytes(b"soon gone")
    found = [candidate(good), candidate(gone)]
    gone.unlink()
    raws, unreadable, writing = archive_inputs(store, found, None)
    assert [r.path for r in raws] == [str(good)]
    assert raws[0].dump_id == hashlib.sha256(b"some bytes").hexdigest()
    archived = store.root / raws[0].archive_path
    assert archived.read_bytes() == b"some bytes"
    assert archived.stat().st_mode & 0o777 == ARCHIVE_MODE
    assert unreadable == [Unreadable(str(gone), "cannot read: No such file or directory")]
    assert writing == []


def test_a_file_still_being_written_is_left_for_a_later_run(tmp_path: Path) -> None:
    """Its size or mtime changed since discovery: loaded now, its first part would be a
    dump of its own and the whole file another (its papers counted twice)."""
    store = Warehouse(tmp_path / "warehouse")
    growing, done = tmp_path / "2025-07-20_live.txt", tmp_path / "done.txt"
    growing.write_bytes(b"Jul 20\n\nA first title\n\n")
    done.write_bytes(b"complete")
    found = [candidate(growing), candidate(done)]
    with growing.open("ab") as writer:  # the capture goes on after discovery
        writer.write(b"Its abstract. It goes on.\n")
    raws, unreadable, writing = archive_inputs(store, found, None)
    assert [r.path for r in raws] == [str(done)] and unreadable == []
    assert writing == [str(growing)]
    assert not list(
        (store.root / "raw").rglob(f"{hashlib.sha256(growing.read_bytes()).hexdigest()}*")
    )
    # the next run's discovery sees it whole
    raws, _, writing = archive_inputs(store, [candidate(growing)], None)
    assert [r.n_bytes for r in raws] == [growing.stat().st_size] and writing == []


def test_an_input_too_large_to_be_a_dump_is_streamed_not_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "MAX_DUMP_BYTES", 10)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (3 << 20))  # several read chunks
    store = Warehouse(tmp_path / "warehouse")
    [raw], _, _ = archive_inputs(store, [candidate(big)], None)
    assert raw.data is None and raw.n_bytes == 3 << 20
    assert raw.dump_id == hashlib.sha256(big.read_bytes()).hexdigest()
    assert (store.root / raw.archive_path).read_bytes() == big.read_bytes()
    assert not list((store.root / "raw").glob(".*"))  # no temp file left


def quarantined(raws: list[archive.RawDump]) -> list[archive.Quarantined]:
    at = datetime(2025, 3, 20, tzinfo=UTC)
    return [archive.Quarantined(r.path, r.dump_id, r.archive_path, at) for r in raws]


def reads(raws: list[archive.RawDump]) -> dict[tuple[str, str], archive.Read]:
    return {
        (r.path, r.dump_id): archive.Read(
            r.n_bytes, r.mtime_ns, r.captured_on, r.captured_on_source
        )
        for r in raws
    }


def test_replay_parses_every_quarantined_dump_and_reads_a_changed_file(tmp_path: Path) -> None:
    """Every quarantined dump of a path is parsed from the archive: a name reused for each
    day's capture (``today.txt``) has one per day.  A path now holding bytes not read before
    is read too; one never read (no dump) is read or reported again."""
    store = Warehouse(tmp_path / "warehouse")
    same, changed = tmp_path / "same.txt", tmp_path / "changed.txt"
    same.write_bytes(b"old same")
    changed.write_bytes(b"first capture")
    first, _, _ = archive_inputs(store, [candidate(same), candidate(changed)], None)
    changed.write_bytes(b"second capture")
    os.utime(changed, (1.6e9, 1.6e9))
    second, _, _ = archive_inputs(store, [candidate(changed)], None)
    raws = [*first, *second]
    known = {r.path: (r.n_bytes, r.mtime_ns) for r in raws}  # the last read of each path
    changed.write_bytes(b"corrected")
    os.utime(changed, (1.7e9, 1.7e9))
    rows = quarantined(raws)
    vanished = str(tmp_path / "vanished.txt")
    rows.append(archive.Quarantined(vanished, None, None, rows[0].quarantined_at))
    again = quarantined_inputs(store, rows, reads(raws), known, None)
    assert sorted((r.path, r.data, r.from_archive) for r in again.raws) == [
        (str(changed), b"corrected", False),
        (str(changed), b"first capture", True),
        (str(changed), b"second capture", True),
        (str(same), b"old same", True),
    ]
    assert again.unreadable == [Unreadable(vanished, "cannot stat: file is gone")]
    assert again.dump_ids == {r.dump_id for r in raws}
    assert again.paths == {str(same), str(changed), vanished}


def test_replay_parses_a_dump_with_the_capture_date_it_was_read_with(tmp_path: Path) -> None:
    store = Warehouse(tmp_path / "warehouse")
    plain = tmp_path / "daily.txt"  # no date in the name: an override or the mtime decides
    plain.write_bytes(b"bytes")
    overridden, _, _ = archive_inputs(store, [candidate(plain)], date(2024, 3, 20))
    os.utime(plain, (1.7e9, 1.7e9))  # touched since: the mtime says 2023-11-14
    known = {str(plain): (5, plain.stat().st_mtime_ns)}
    rows, read = quarantined(overridden), reads(overridden)
    [again] = quarantined_inputs(store, rows, read, known, None).raws
    assert (again.captured_on, again.captured_on_source) == (date(2024, 3, 20), "override")
    [redone] = quarantined_inputs(store, rows, read, known, date(2024, 3, 21)).raws
    assert (redone.captured_on, redone.captured_on_source) == (date(2024, 3, 21), "override")
    # A read recorded before sources kept the capture date: the name, else its mtime.
    old = {key: archive.Read(5, int(1.6e18), None, None) for key in read}
    [legacy] = quarantined_inputs(store, rows, old, known, None).raws
    assert (legacy.captured_on, legacy.captured_on_source) == (date(2020, 9, 13), "mtime")
    # No read recorded at all: the time it was quarantined stands for its mtime (not 1970).
    [unrecorded] = quarantined_inputs(store, rows, {}, known, None).raws
    assert (unrecorded.captured_on, unrecorded.mtime_ns) == (date(2025, 3, 20), 1742428800 * 10**9)


@pytest.mark.parametrize("stat_size", [0, 5, 6, 7, 100])
def test_a_dump_is_read_whole_whatever_its_stat_said(
    stat_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that grew (or shrank) since fstat is still read to the end, up to the limit."""
    monkeypatch.setattr(archive, "MAX_DUMP_BYTES", 8)
    assert archive._read_head(io.BytesIO(b"abcdef"), stat_size) == b"abcdef"
    assert archive._read_head(io.BytesIO(b"0123456789"), stat_size) == b"012345678"


def test_a_quarantined_dump_without_an_archived_copy_is_read_from_its_path(
    tmp_path: Path,
) -> None:
    """No row paperlake writes lacks the copy, but replay must not fail on one (a lake
    edited by hand): its path is read again, and its dump is parsed again."""
    store = Warehouse(tmp_path / "warehouse")
    day = tmp_path / "day.txt"
    day.write_bytes(b"bytes")
    [read], _, _ = archive_inputs(store, [candidate(day)], None)
    row = archive.Quarantined(read.path, read.dump_id, None, datetime(2025, 3, 20, tzinfo=UTC))
    known = {read.path: (read.n_bytes, read.mtime_ns)}
    again = quarantined_inputs(store, [row], reads([read]), known, None)
    assert [(r.data, r.from_archive) for r in again.raws] == [(b"bytes", False)]
    assert again.dump_ids == {read.dump_id} and again.unreadable == []


def test_a_dump_whose_archived_copy_cannot_be_read_keeps_its_quarantine_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed read (a bucket's passing error) is reported, and the dump is not among those
    whose rows the replay replaces: its bytes stay quarantined, to be parsed next time."""
    store = Warehouse(tmp_path / "warehouse")
    day = tmp_path / "day.txt"
    day.write_bytes(b"bytes")
    raws, _, _ = archive_inputs(store, [candidate(day)], None)

    def failing(rel: str) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store, "read_raw", failing)
    known = {r.path: (r.n_bytes, r.mtime_ns) for r in raws}
    again = quarantined_inputs(store, quarantined(raws), reads(raws), known, None)
    assert again.raws == [] and again.dump_ids == set()
    [unread] = again.unreadable
    assert unread.detail.startswith(f"cannot read the archived copy {raws[0].archive_path}")


def test_replay_leaves_a_landing_file_still_being_written_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path whose input could not be read is read again; still being written then, it is
    neither loaded nor quarantined as unreadable for it: the next run reads it whole."""
    store = Warehouse(tmp_path / "warehouse")
    day = tmp_path / "day.txt"
    day.write_bytes(b"half a capture")
    read_head = archive._read_head

    def growing(handle: io.BufferedReader, size: int) -> bytes:
        head = read_head(handle, size)
        with day.open("ab") as writer:  # the capture goes on while it is read
            writer.write(b", and the rest")
        return head

    monkeypatch.setattr(archive, "_read_head", growing)
    unread = archive.Quarantined(str(day), None, None, datetime(2025, 3, 20, tzinfo=UTC))
    again = quarantined_inputs(store, [unread], {}, {}, None)
    assert again.raws == []
    [still] = again.unreadable
    assert "still being written" in still.detail and "read again by the next run" in still.detail
