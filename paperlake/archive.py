"""Archive stage: read each discovered input once and keep its exact bytes.

Every input, dump or not, is archived under its sha256 (``paperlake.lake.raw`` writes the
archive) before anything parses it, so a quarantined file can be replayed from the archive
after a parser fix.  :func:`quarantined_inputs` gathers what ``paperlake replay`` processes
again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from paperlake.discover import Candidate, Unreadable, not_regular, undecodable_name
from paperlake.parse import MAX_DUMP_BYTES, capture_date_from_name

if TYPE_CHECKING:
    from paperlake.lake import Warehouse

CaptureSource = Literal["file_name", "mtime", "override"]
"""Where a dump's capture date came from: its file name, its mtime, or ``--captured-on``."""


@dataclass(frozen=True, slots=True)
class RawDump:
    """One input file's bytes, already archived under its hash."""

    path: str
    data: bytes | None
    """None for a file too large to be a dump (archived by streaming, never held)."""
    n_bytes: int
    dump_id: str
    archive_path: str
    mtime_ns: int
    captured_on: date
    captured_on_source: CaptureSource
    from_archive: bool = False
    """Read from the raw archive by a replay, not from ``path``: no ``sources`` row (the path
    was not read), so the next ingest still compares the path with its last real read."""


Archived = tuple[list[RawDump], list[Unreadable], list[str]]
"""A chunk's inputs once archived: its dumps, the inputs that could not be read, and the
paths still being written (:class:`StillWriting`: left for a later run)."""


class StillWriting(OSError):
    """The file changed (size or modification time) between its discovery and the end of
    its read: something is still writing it.  Loaded then, its first part would be a dump
    of its own, and the whole file another one (its papers counted twice)."""


def landing_name(shown: str) -> str:
    """The file a :func:`display_path` name stands for, if it still exists; else ``shown``."""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), shown.encode())
    real = os.fsdecode(raw)
    return real if real != shown and os.path.lexists(real) else shown


def capture_date(candidate: Candidate, override: date | None) -> tuple[date, CaptureSource]:
    if override is not None:
        return override, "override"
    from_name = capture_date_from_name(Path(candidate.path).name)
    if from_name is not None:
        return from_name, "file_name"
    return datetime.fromtimestamp(candidate.mtime_ns / 1e9, UTC).date(), "mtime"


def archive_inputs(
    warehouse: Warehouse, candidates: list[Candidate], captured_on: date | None
) -> Archived:
    """Archive a chunk of inputs, made durable together; a file whose read fails is
    reported as unreadable (quarantined by the transform) and the rest go on."""
    raws: list[RawDump] = []
    unreadable: list[Unreadable] = []
    writing: list[str] = []
    with warehouse.archiving():
        for candidate in candidates:
            try:
                raws.append(read_into_archive(warehouse, candidate, captured_on))
            except StillWriting:  # not read: the next run reads it whole
                writing.append(candidate.path)
            except OSError as exc:  # any read error: that file is quarantined, the rest loads
                unreadable.append(Unreadable.failed(candidate.path, "cannot read", exc))
    return raws, unreadable, writing


def read_into_archive(
    warehouse: Warehouse, candidate: Candidate, captured_on: date | None
) -> RawDump:
    """Read one input and keep its exact bytes in the raw archive.

    A file larger than a dump can be is streamed into the archive and handed on with
    ``data=None`` so that it is quarantined without being held in memory.  Opened without
    blocking and checked again, so a file swapped for a named pipe since discovery cannot
    hang the run.  Raises OSError (the caller quarantines the file as ``unreadable``).
    """
    fd = os.open(candidate.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as handle:
        stat = os.fstat(fd)
        kind = not_regular(stat.st_mode)
        if kind is not None:
            raise OSError(kind)
        head = _read_head(handle, stat.st_size)
        on, source = capture_date(candidate, captured_on)
        if len(head) <= MAX_DUMP_BYTES:
            after = os.fstat(fd)
            seen = (candidate.n_bytes, candidate.mtime_ns)  # at discovery
            if len(head) != candidate.n_bytes or (after.st_size, after.st_mtime_ns) != seen:
                raise StillWriting(f"still being written: {len(head)} bytes read")
            data: bytes | None = head
            n_bytes = len(head)
            dump_id, rel = warehouse.archive(head, on)
        else:
            data = None
            dump_id, rel, n_bytes = warehouse.archive_stream(head, handle, on)
    return RawDump(candidate.path, data, n_bytes, dump_id, rel, candidate.mtime_ns, on, source)


def _read_head(handle: BinaryIO, size: int) -> bytes:
    """The first ``MAX_DUMP_BYTES + 1`` bytes of ``handle`` (all of a dump).

    Asks for the file's size plus one first: a read as large as the limit allocates a 64 MB
    buffer for every 100 KB dump.  A file that grew since ``fstat`` is read on to the limit."""
    limit = MAX_DUMP_BYTES + 1
    head = handle.read(min(size + 1, limit))
    if len(head) == size + 1 and len(head) < limit:
        head += handle.read(limit - len(head))
    return head


@dataclass(slots=True)
class Replay:
    """Quarantined files to process again, and the quarantine rows they supersede."""

    raws: list[RawDump]
    unreadable: list[Unreadable]
    dump_ids: set[str]
    """The quarantined dumps parsed again: their quarantine rows go."""
    paths: set[str]
    """Every path replayed: its rows of inputs never read (no dump_id) go."""


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A file quarantined whole (a ``quarantine`` row of scope ``file``)."""

    path: str
    dump_id: str | None
    """None when the input could not be read."""
    archive_path: str | None
    quarantined_at: datetime


@dataclass(frozen=True, slots=True)
class Read:
    """How an input's bytes were read from their path (its ``sources`` row)."""

    n_bytes: int
    mtime_ns: int
    captured_on: date | None
    """None for a read recorded before ``sources`` kept the capture date."""
    captured_on_source: CaptureSource | None


def quarantined_inputs(
    warehouse: Warehouse,
    quarantined: list[Quarantined],
    reads: dict[tuple[str, str], Read],
    known_files: dict[str, tuple[int, int]],
    captured_on: date | None,
) -> Replay:
    """What to replay for the files quarantined whole: every quarantined dump's archived
    bytes are parsed again (after a parser fix), each with the capture date it was read
    with (``reads``, by path and dump id) unless ``captured_on`` overrides it; and a path
    that now holds bytes not read before (a corrected re-drop, or the next capture under a
    fixed name) or whose input could not be read is read again from the landing folder.

    Every quarantined dump of a path is parsed again, not only its latest: a landing name
    reused for each day's capture may have several, and a row dropped without a new parse
    would leave its bytes neither loaded nor quarantined.
    """
    replay = Replay([], [], set(), set())
    by_path: dict[str, list[Quarantined]] = {}
    for row in quarantined:
        by_path.setdefault(row.path, []).append(row)
    for path, rows in by_path.items():
        replay.paths.add(path)
        # A row with a dump id but no archived copy (none in rows paperlake writes) is read
        # again from the landing folder, as an unreadable input's row is.
        replay.dump_ids.update(r.dump_id for r in rows if r.dump_id and not r.archive_path)
        archived = [row for row in rows if row.dump_id is not None and row.archive_path]
        for row in archived:
            assert row.dump_id is not None
            try:
                read = reads.get((path, row.dump_id))
                raw = _archived_again(warehouse, row, read, captured_on)
            except OSError as exc:  # its row stays as it is: only parsed bytes leave
                what = f"cannot read the archived copy {row.archive_path}"
                replay.unreadable.append(Unreadable.failed(path, what, exc))
                continue
            replay.dump_ids.add(row.dump_id)
            replay.raws.append(raw)
        _landing_again(warehouse, path, known_files, captured_on, replay, len(archived) < len(rows))
    return replay


def _archived_again(
    warehouse: Warehouse, row: Quarantined, read: Read | None, captured_on: date | None
) -> RawDump:
    """A quarantined dump's archived bytes, with what its read recorded (without a
    ``sources`` row: its size, and the time it was quarantined as its mtime)."""
    assert row.dump_id is not None and row.archive_path is not None
    if read is None:
        data: bytes | None = warehouse.read_raw(row.archive_path)
        assert data is not None
        n_bytes, mtime_ns = len(data), int(row.quarantined_at.timestamp() * 1e9)
    else:
        n_bytes, mtime_ns = read.n_bytes, read.mtime_ns
        # too large to be a dump: quarantined again by its size, never held
        data = warehouse.read_raw(row.archive_path) if n_bytes <= MAX_DUMP_BYTES else None
    if captured_on is None and read is not None and read.captured_on is not None:
        assert read.captured_on_source is not None
        on, source = read.captured_on, read.captured_on_source
    else:
        on, source = capture_date(Candidate(row.path, n_bytes, mtime_ns), captured_on)
    return RawDump(
        row.path, data, n_bytes, row.dump_id, row.archive_path, mtime_ns, on, source, True
    )


def _landing_again(
    warehouse: Warehouse,
    path: str,
    known_files: dict[str, tuple[int, int]],
    captured_on: date | None,
    replay: Replay,
    unread: bool,
) -> None:
    """Read ``path`` again into ``replay`` if it holds bytes not read before, or if its
    input could not be read (``unread``: then a path still unreadable is reported again)."""
    bad_name = undecodable_name(landing_name(path))
    if bad_name is not None:  # still there under a name no table can hold
        if unread:
            replay.unreadable.append(Unreadable(path, bad_name))
        return
    try:
        stat = os.stat(path)
    except OSError:
        if unread:
            replay.unreadable.append(Unreadable(path, "cannot stat: file is gone"))
        return
    if not unread and known_files.get(path) == (stat.st_size, stat.st_mtime_ns):
        return  # the bytes last read there: quarantined, so parsed from the archive
    try:
        candidate = Candidate(path, stat.st_size, stat.st_mtime_ns)
        replay.raws.append(read_into_archive(warehouse, candidate, captured_on))
    except StillWriting as exc:  # not quarantined for it: the next run reads it whole
        if unread:  # its row of an input never read is replaced: say it is there again
            replay.unreadable.append(Unreadable(path, f"{exc}; read again by the next run"))
    except OSError as exc:
        replay.unreadable.append(Unreadable.failed(path, "cannot read", exc))
