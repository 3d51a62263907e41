"""Find input files and read them into the raw archive.

Landing-folder rules: every regular, non-hidden file below a folder is an input (a file that
is not a dump is quarantined, not ignored, so nothing dropped is silently lost); hidden
files and in-progress downloads (``.part``, ``.tmp``, ``.crdownload``) are left for a later
run.  Folder symlinks are not followed (no loops): they are reported, as are named pipes,
sockets, devices, names that are not UTF-8 and files whose read fails, each with what it is;
file symlinks are followed.  Archived copies are written ``ARCHIVE_MODE`` whatever the
input's permissions.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

from paperlake.build import CaptureSource, RawDump
from paperlake.lake import ARCHIVE_MODE, Warehouse
from paperlake.parse import MAX_DUMP_BYTES, capture_date_from_name

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Candidate:
    path: str
    """Absolute path (not resolved: the name the user dropped)."""
    n_bytes: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Unreadable:
    path: str
    detail: str


@dataclass(slots=True)
class Discovery:
    candidates: list[Candidate]
    unreadable: list[Unreadable]
    skipped_unchanged: int
    skipped_in_progress: list[str]


def _is_in_progress(name: str) -> bool:
    return name.startswith(".") or name.endswith(IN_PROGRESS_SUFFIXES)


def _walk(root: Path) -> Iterable[Path]:
    """Files below ``root``, and links to folders (not followed, so reported, not lost)."""

    def fail(error: OSError) -> None:
        raise error

    for folder, dirs, files in os.walk(root, onerror=fail, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        for name in sorted([*files, *links]):
            yield Path(folder) / name


def not_regular(mode: int) -> str | None:
    """Why a file of this ``st_mode`` cannot be a dump; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = {
        stat.S_ISDIR: "a folder (links to folders are not followed)",
        stat.S_ISFIFO: "a named pipe",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
    }
    kind = next((text for test, text in kinds.items() if test(mode)), "not a file")
    return f"not a regular file: {kind}"


def display_path(path: str) -> str:
    """``path`` as UTF-8 text: bytes that are not UTF-8 shown as ``\\xff`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _landing_name(shown: str) -> str:
    """The file a :func:`display_path` name stands for, if it still exists; else ``shown``."""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), shown.encode())
    real = os.fsdecode(raw)
    return real if real != shown and os.path.lexists(real) else shown


def undecodable_name(path: str) -> str | None:
    """Why ``path`` cannot be recorded (not UTF-8, so no table can hold it); else None."""
    raw = os.fsencode(path)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"file name is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} of the path; rename the file to load it"
        )
    return None


def discover(
    paths: Iterable[str | Path], known: dict[str, tuple[int, int]], exclude: Path | None = None
) -> Discovery:
    """Inputs under ``paths`` that changed since they were last read.

    ``known`` maps an absolute path to the (size, mtime_ns) it had when read; such files are
    skipped without being opened, so a daily run's cost tracks the new files.
    """
    found = Discovery([], [], 0, [])
    seen: set[str] = set()
    for given in paths:
        root = Path(os.path.abspath(given))
        try:
            files = [root] if not root.is_dir() else list(_walk(root))
        except OSError as exc:
            found.unreadable.append(Unreadable(str(root), f"cannot list folder: {exc}"))
            continue
        for path in files:
            name = str(path)
            if name in seen or (exclude is not None and path.is_relative_to(exclude)):
                continue
            seen.add(name)
            if root.is_dir() and _is_in_progress(path.name):
                found.skipped_in_progress.append(display_path(name))
                continue
            bad_name = undecodable_name(name)
            if bad_name is not None:
                found.unreadable.append(Unreadable(display_path(name), bad_name))
                continue
            try:
                info = path.stat()
            except OSError as exc:
                found.unreadable.append(Unreadable(name, f"cannot stat: {exc.strerror or exc}"))
                continue
            kind = not_regular(info.st_mode)
            if kind is not None:
                found.unreadable.append(Unreadable(name, kind))
                continue
            if known.get(name) == (info.st_size, info.st_mtime_ns):
                found.skipped_unchanged += 1
                continue
            found.candidates.append(Candidate(name, info.st_size, info.st_mtime_ns))
    return found


def batches(candidates: list[Candidate], max_count: int, max_bytes: int) -> list[list[Candidate]]:
    """Consecutive groups of at most ``max_count`` files and ``max_bytes`` bytes (a file
    bigger than ``max_bytes`` makes a batch of its own)."""
    groups: list[list[Candidate]] = []
    size = 0
    for candidate in candidates:
        if not groups or len(groups[-1]) >= max_count or size + candidate.n_bytes > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(candidate)
        size += candidate.n_bytes
    return groups


def capture_date(candidate: Candidate, override: date | None) -> tuple[date, CaptureSource]:
    if override is not None:
        return override, "override"
    from_name = capture_date_from_name(Path(candidate.path).name)
    if from_name is not None:
        return from_name, "file_name"
    return datetime.fromtimestamp(candidate.mtime_ns / 1e9, UTC).date(), "mtime"


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
        kind = not_regular(os.fstat(fd).st_mode)
        if kind is not None:
            raise OSError(kind)
        head = handle.read(MAX_DUMP_BYTES + 1)
        if len(head) <= MAX_DUMP_BYTES:
            data: bytes | None = head
            n_bytes = len(head)
            dump_id, rel = warehouse.archive(head)
        else:
            data = None
            dump_id, rel, n_bytes = _stream_archive(warehouse, head, handle)
    on, source = capture_date(candidate, captured_on)
    return RawDump(candidate.path, data, n_bytes, dump_id, rel, candidate.mtime_ns, on, source)


def _stream_archive(warehouse: Warehouse, head: bytes, handle: BinaryIO) -> tuple[str, str, int]:
    digest = hashlib.sha256(head)
    n_bytes = len(head)
    tmp = warehouse.root / "raw" / f".stream.tmp-{os.getpid()}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        os.fchmod(out.fileno(), ARCHIVE_MODE)
        out.write(head)
        while chunk := handle.read(_CHUNK):
            n_bytes += len(chunk)
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    dump_id = digest.hexdigest()
    rel = warehouse.raw_relpath(dump_id)
    warehouse.store_streamed(tmp, rel)
    return dump_id, rel, n_bytes


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
        bad_name = undecodable_name(_landing_name(path))
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
