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


Archived = tuple[list[RawDump], list[Unreadable]]
"""A chunk's inputs once archived: its dumps, and the inputs that could not be read."""


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
    with warehouse.archiving():
        for candidate in candidates:
            try:
                raws.append(read_into_archive(warehouse, candidate, captured_on))
            except OSError as exc:  # any read error: that file is quarantined, the rest loads
                unreadable.append(Unreadable(candidate.path, f"cannot read: {exc.strerror or exc}"))
    return raws, unreadable


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
        if len(head) <= MAX_DUMP_BYTES:
            data: bytes | None = head
            n_bytes = len(head)
            dump_id, rel = warehouse.archive(head)
        else:
            data = None
            dump_id, rel, n_bytes = warehouse.archive_stream(head, handle)
    on, source = capture_date(candidate, captured_on)
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
    paths: set[str]


def quarantined_inputs(
    warehouse: Warehouse,
    quarantined: list[tuple[str, str | None, str | None]],
    known_files: dict[str, tuple[int, int]],
    captured_on: date | None,
) -> Replay:
    """What to replay for each quarantined (source_file, dump_id, archive_path).

    A file whose path now holds other bytes (a corrected re-drop) is read again from the
    landing folder; otherwise its archived bytes are parsed again (after a parser fix).
    """
    replay = Replay([], [], set(), set())
    for path, dump_id, archive_path in quarantined:
        replay.paths.add(path)
        if dump_id is not None:
            replay.dump_ids.add(dump_id)
        bad_name = undecodable_name(landing_name(path))
        if bad_name is not None:  # still there under a name no table can hold
            replay.unreadable.append(Unreadable(path, bad_name))
            continue
        try:
            stat = os.stat(path)
            current = Candidate(path, stat.st_size, stat.st_mtime_ns)
            changed = known_files.get(path) != (stat.st_size, stat.st_mtime_ns)
        except OSError:
            current, changed = None, False
        try:
            if current is not None and (changed or archive_path is None):
                replay.raws.append(read_into_archive(warehouse, current, captured_on))
            elif archive_path is not None and dump_id is not None:
                data = warehouse.read_raw(archive_path)
                size, mtime_ns = known_files.get(path, (len(data), 0))
                on, source = capture_date(Candidate(path, size, mtime_ns), captured_on)
                replay.raws.append(
                    RawDump(path, data, len(data), dump_id, archive_path, mtime_ns, on, source)
                )
            else:
                replay.unreadable.append(Unreadable(path, "cannot stat: file is gone"))
        except OSError as exc:
            replay.unreadable.append(Unreadable(path, f"cannot read: {exc.strerror or exc}"))
    return replay
