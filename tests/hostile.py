"""The catalogue of hostile inputs: each a named fixture with the outcome it must produce.

``Hostile.outcome`` is one of:

* ``("file", reason, detail)``: the whole file is quarantined with that reason, and the
  detail contains that text;
* ``("entry", reason, detail)``: the dump loads, one entry is quarantined;
* ``("load", n_papers, "")``: the dump loads cleanly with that many listings;
* ``("skip", "", "")``: left in the landing folder for a later run, not read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from paperlake.parse import MAX_DUMP_BYTES
from tests.dumps import abstract, dump_bytes, render

Outcome = tuple[str, str | int, str]


def _papers(tag: str, n: int = 2) -> list[tuple[str, str]]:
    """Distinct titles per fixture, so no two fixtures share bytes."""
    return [(f"{tag} paper number {i}", abstract(f"{tag} {i}")) for i in range(1, n + 1)]


def _write(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _symlink_loop(path: Path) -> None:
    other = path.with_name(path.name + ".other")
    path.symlink_to(other)
    other.symlink_to(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.with_name("does-not-exist"))


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _read_fails(path: Path) -> None:
    """A regular file by stat whose read raises EIO (a process's memory at offset 0)."""
    path.symlink_to("/proc/self/mem")


def _folder_link(path: Path) -> None:
    path.symlink_to(path.parent, target_is_directory=True)


def _link_to_public(path: Path) -> None:
    """A symlink to a world-readable file (hidden, so only the link is an input)."""
    target = path.with_name(".public-target")
    target.write_bytes(dump_bytes(_papers("public")))
    target.chmod(0o644)
    path.symlink_to(target)


NOT_UTF8_NAME = os.fsdecode(b"dump-\xff\xfe-name.txt")


def _sparse_200mb(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)


def _no_permission(path: Path) -> None:
    path.write_bytes(dump_bytes(_papers("secret")))
    path.chmod(0)


@dataclass(frozen=True)
class Hostile:
    name: str
    file_name: str
    make: Callable[[Path], None]
    outcome: Outcome


def _blocks(*blocks: str) -> bytes:
    return "\n\n".join(blocks).encode()


CATALOGUE: list[Hostile] = [
    # ---- whole-file rejects ------------------------------------------------------------
    Hostile("empty", "empty.txt", _write(b""), ("file", "empty", "0 bytes")),
    Hostile("whitespace_only", "blank.txt", _write(b" \n\t\r\n  \n"), ("file", "empty", "no text")),
    Hostile("bom_only", "bom-only.txt", _write(b"\xef\xbb\xbf\n"), ("file", "empty", "no text")),
    Hostile(
        "nul_bytes",
        "nul.txt",
        _write(dump_bytes(_papers("nul"))[:50] + b"\x00rest"),
        ("file", "binary", "NUL byte at offset 50"),
    ),
    Hostile(
        "utf16",
        "utf16.txt",
        _write(render(_papers("utf16")).encode("utf-16")),
        ("file", "binary", "NUL byte"),
    ),
    Hostile(
        "latin1",
        "latin1.txt",
        _write(render(_papers("caf\xe9")).encode("latin-1")),
        ("file", "not_utf8", "byte 0xe9 at offset"),
    ),
    Hostile(
        "truncated_utf8",
        "cut.txt",
        _write(dump_bytes(_papers("naïve"))[:-1] + b"\xc3"),
        ("file", "not_utf8", "byte 0xc3"),
    ),
    Hostile(
        "html_page",
        "page.html",
        _write(b"<!DOCTYPE html>\n<html><body><p>Mar 14</p></body></html>"),
        ("file", "html", "HTML page"),
    ),
    Hostile(
        "html_fragment",
        "fragment.txt",
        _write(b"  <div class='paper'>Mar 14</div>"),
        ("file", "html", "HTML page"),
    ),
    Hostile(
        "png_image",
        "figure.png",
        _write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("file", "binary", "NUL byte"),
    ),
    Hostile(
        "markdown_notes",
        "NOTES.md",
        _write(b"# Notes\n\nNothing to see here.\n"),
        ("file", "no_date_label", "no date label"),
    ),
    Hostile(
        "json_file",
        "export.json",
        _write(b'{"papers": []}'),
        ("file", "no_date_label", "no date label"),
    ),
    Hostile(
        "no_date_label",
        "no-label.txt",
        _write(dump_bytes(_papers("nolabel"), label="Trending today")),
        ("file", "no_date_label", "no date label"),
    ),
    Hostile(
        "label_with_a_year",
        "label-year.txt",
        _write(dump_bytes(_papers("year"), label="Feb 5, 2025")),
        ("file", "no_date_label", "'Feb 5, 2025' is close, but a label is a month and a day"),
    ),
    Hostile(
        "feb_30",
        "feb30.txt",
        _write(dump_bytes(_papers("feb"), label="Feb 30")),
        ("file", "impossible_date", "'Feb 30' is not a calendar date"),
    ),
    Hostile(
        "mar_0",
        "mar0.txt",
        _write(dump_bytes(_papers("mar"), label="Mar 0")),
        ("file", "impossible_date", "'Mar 0'"),
    ),
    Hostile(
        "day_99",
        "day99.txt",
        _write(dump_bytes(_papers("d99"), label="Jun 99")),
        ("file", "impossible_date", "'Jun 99'"),
    ),
    Hostile(
        "two_pages_in_one_file",
        "appended.txt",
        _write(dump_bytes(_papers("p1"), label="Feb 6") + dump_bytes(_papers("p2"), label="Feb 7")),
        ("file", "several_pages", "banner 'Get trending papers in your email inbox!' comes again"),
    ),
    Hostile(
        "two_pages_the_second_with_other_chrome",
        "appended-redesign.txt",
        _write(
            dump_bytes(_papers("q1"), label="Feb 6")
            + dump_bytes(_papers("q2"), label="Feb 7", chrome=["Trending papers, by email"])
        ),
        ("file", "several_pages", "second date label 'Feb 7' after the date label 'Feb 6'"),
    ),
    Hostile(
        "label_only",
        "label-only.txt",
        _write(dump_bytes([])),
        ("file", "no_entries", "no title+abstract pairs"),
    ),
    Hostile(
        "titles_only",
        "titles-only.txt",
        _write(_blocks("Mar 14", "One title", "Two title")),
        ("file", "no_entries", "2 damaged entries"),
    ),
    Hostile(
        "ten_mb_single_line",
        "one-line.txt",
        _write(b"a" * 10_000_000),
        ("file", "no_date_label", "no date label"),
    ),
    Hostile(
        "two_hundred_mb",
        "huge.txt",
        _sparse_200mb,
        ("file", "too_large", f"209,715,200 bytes; a dump is at most {MAX_DUMP_BYTES:,}"),
    ),
    Hostile(
        "future_capture_date",
        "2099-01-01_future.txt",
        _write(dump_bytes(_papers("future"))),
        ("file", "schema", "captured_on must not be after the day after the ingestion date"),
    ),
    Hostile(
        "symlink_loop",
        "loop.txt",
        _symlink_loop,
        ("file", "unreadable", "Too many levels of symbolic links"),
    ),
    Hostile(
        "dangling_symlink",
        "dangling.txt",
        _dangling,
        ("file", "unreadable", "No such file or directory"),
    ),
    Hostile(
        "named_pipe", "pipe.txt", _fifo, ("file", "unreadable", "not a regular file: a named pipe")
    ),
    Hostile(
        "read_error",
        "2025-03-14_read-error.txt",
        _read_fails,
        ("file", "unreadable", "cannot read: Input/output error"),
    ),
    Hostile(
        "folder_link",
        "2025-03-14_folder.txt",
        _folder_link,
        ("file", "unreadable", "not a regular file: a folder (links to folders are not followed)"),
    ),
    Hostile(
        "name_not_utf8",
        NOT_UTF8_NAME,
        _write(dump_bytes(_papers("badname"))),
        ("file", "unreadable", "file name is not valid UTF-8: byte 0xff at offset"),
    ),
    # ---- damaged entries inside an otherwise good dump -----------------------------------
    Hostile(
        "title_5000_chars",
        "long-title.txt",
        _write(dump_bytes([(" ".join(["Word"] * 1000), abstract("long")), *_papers("lt")])),
        ("entry", "schema", "Entries.title: expected str_length(1, 500)"),
    ),
    Hostile(
        "abstract_10_mb_line",
        "long-abstract.txt",
        _write(dump_bytes([("Huge abstract", "We ramble. " * 1_000_000), *_papers("la")])),
        ("entry", "schema", "Entries.abstract: expected str_length(1, 20000)"),
    ),
    Hostile(
        "missing_abstract",
        "missing.txt",
        _write(
            _blocks("Mar 14", "Kept one", abstract("k1"), "Lost one", "Kept two", abstract("k2"))
        ),
        ("entry", "missing_abstract", "before the next title"),
    ),
    Hostile(
        "truncated_dump",
        "truncated.txt",
        _write(dump_bytes(_papers("trunc")) + b"\nA title cut off\n"),
        ("entry", "missing_abstract", "at the end of the dump"),
    ),
    Hostile(
        "orphan_abstract",
        "orphan.txt",
        _write(
            _blocks(
                "Mar 14", "Has one", abstract("h"), abstract("orphan"), "Has two", abstract("h2")
            )
        ),
        ("entry", "abstract_without_title", "where a title was expected"),
    ),
    Hostile(
        "punctuation_title",
        "punct.txt",
        _write(dump_bytes([("?!?", abstract("punct")), *_papers("pt")])),
        ("entry", "schema", "Entries.title_key"),
    ),
    # ---- noise that must still load ------------------------------------------------------
    Hostile(
        "crlf",
        "crlf.txt",
        _write(render(_papers("crlf"), newline="\r\n").encode()),
        ("load", 2, ""),
    ),
    Hostile(
        "mixed_crlf_lf",
        "mixed.txt",
        _write(render(_papers("mixed")).replace("\n\n", "\r\n\r\n", 2).encode()),
        ("load", 2, ""),
    ),
    Hostile(
        "bom", "bom.txt", _write(b"\xef\xbb\xbf" + dump_bytes(_papers("bom"))), ("load", 2, "")
    ),
    Hostile(
        "name_with_spaces",
        "my dump (1).txt",
        _write(dump_bytes(_papers("spaces"))),
        ("load", 2, ""),
    ),
    Hostile(
        "unicode_name", "dump_日本語_é.txt", _write(dump_bytes(_papers("unicode"))), ("load", 2, "")
    ),
    Hostile("link_to_public_file", "linked.txt", _link_to_public, ("load", 2, "")),
    Hostile(
        "dot_dot_name",
        "dump..2025-03-13..txt",
        _write(dump_bytes(_papers("dots"))),
        ("load", 2, ""),
    ),
    # ---- left for a later run ------------------------------------------------------------
    Hostile("hidden_file", ".DS_Store", _write(b"\x00\x00\x00\x01Bud1"), ("skip", "", "")),
    Hostile("partial_download", "tomorrow.txt.part", _write(b"Mar 15\n\nHalf a"), ("skip", "", "")),
]

ROOT_ONLY_SKIPPED = Hostile(
    "no_read_permission",
    "secret.txt",
    _no_permission,
    ("file", "unreadable", "Permission denied"),
)
"""Root reads any file, so this one is only meaningful for other users."""
