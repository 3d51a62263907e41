"""Parse one raw "trending papers" dump into entries, or reject the whole file.

Pure functions only: bytes in, a :class:`ParsedDump` (or :class:`DumpRejected`) out.

The dump contract (see README, "The dump contract"):

* UTF-8 text; a BOM, CRLF/CR line ends, trailing spaces and extra blank lines are noise.
  Blocks are runs of non-blank lines; whitespace-only lines count as blank.
* Page chrome before the date label (``Mar 14``) is skipped.
* After the label, each paper is a title block followed by an abstract block.  A title that
  lost its abstract (truncated dump, missing paragraph) must not shift the pairing, so the
  pairing looks one block ahead; the damaged entry becomes an :class:`EntryProblem`.

Longer than the ~250-line norm on purpose: it is the dump contract above as one chain of
small pure functions (decode -> blocks -> date label -> pairing), read top to bottom;
split, the contract would be spread over files that only make sense together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from paperlake.rejects import Reject

MAX_DUMP_BYTES = 64 * 1024 * 1024
"""A real dump is ~100 KB; anything this large is not a listing page (and would cost RAM)."""

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_FULL_MONTHS = (
    "january february march april may june july august september october november december"
).split()

_DATE_LABEL = re.compile(r"(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})")
_HTML_START = re.compile(rb"\s*<(?:!doctype\s+html|html|head|body|meta|div|!--)", re.IGNORECASE)
# A sentence break: end punctuation, optional closing quote/bracket, space, a capital.
_SENTENCE_BREAK = re.compile(r"[.!?][\"')\]]?\s+[\"(]?[A-Z]")
_SENTENCE_END = re.compile(r"\.[\"')\]]?$")
_ABSTRACT_MIN_CHARS = 200
ZONE_AHEAD = timedelta(days=1)
"""How far one day's date may be ahead of another's, written in different time zones at the
same moment.  A page's date label is in the page's zone and its capture date in the
capturer's (a file name) or UTC (a modification time): a capture made in the evening in
New York, or in the morning in Tokyo dated by its UTC mtime, shows tomorrow's label
(resolved against the capture date alone, "Mar 14" captured on Mar 13 was put a whole year
back, silently).  Likewise a file named with the capturer's date in a zone ahead of UTC is
captured "tomorrow" for the UTC clock that stamps its ingestion."""
_NEAR_LABEL_MAX_CHARS = 24
_LABEL_MAX_CHARS = 16
"""Longer blocks are no date label: ``September 30``, the longest, has 12 characters (a few
more spaces inside allowed); checked first, as every block of a page is looked at."""
BANNER = "Get trending papers in your email inbox!"
"""The page's banner, part of the chrome before the date label: once per capture.  Found
again after the label, or a second date label, the file holds a second page (captures
appended to one file, whose papers would all take the first page's date): the label catches
a second page whose chrome changed, the banner one whose label is missing."""
_BANNER_OR_LABEL_CHARS = max(len(BANNER), _LABEL_MAX_CHARS)


class DumpRejected(Exception):
    """The whole file is not a usable dump.  ``reason`` is a stable :class:`Reject` code."""

    def __init__(self, reason: Reject, detail: str, line: int | None = None) -> None:
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{reason.value}: {detail}{where}")
        self.reason = reason
        self.detail = detail
        self.line = line


@dataclass(slots=True)
class Block:
    """A run of non-blank lines, joined with single spaces; ``line`` is 1-based.

    Not frozen, nor is :class:`Entry`: a frozen dataclass sets each field through
    ``object.__setattr__``, and making the ~115 blocks and ~55 entries of each dump was then
    a quarter of the parse (0.129 -> 0.099 s of CPU for 400 dumps of the 10-year benchmark).
    Nothing changes them once made."""

    text: str
    line: int


@dataclass(slots=True)
class Entry:
    """One paper as listed: its rank on the page, title and abstract."""

    position: int
    title: str
    abstract: str
    line: int


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """An entry that could not be paired; the rest of the dump still loads."""

    reason: Reject
    detail: str
    line: int
    position: int | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedDump:
    label: str
    label_line: int
    listed_on: date
    entries: list[Entry]
    problems: list[EntryProblem] = field(default_factory=list)


def too_large(n_bytes: int) -> DumpRejected:
    return DumpRejected(
        Reject.TOO_LARGE, f"{n_bytes:,} bytes; a dump is at most {MAX_DUMP_BYTES:,} bytes"
    )


def decode_dump(data: bytes) -> str:
    """Decode and sanity-check raw bytes, rejecting files that are not text dumps."""
    if len(data) > MAX_DUMP_BYTES:
        raise too_large(len(data))
    if not data.strip():
        raise DumpRejected(Reject.EMPTY, f"file has {len(data)} bytes and no text")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DumpRejected(Reject.BINARY, f"NUL byte at offset {nul}; expected UTF-8 text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DumpRejected(
            Reject.NOT_UTF8,
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8",
            line,
        ) from None
    if not text.strip():
        raise DumpRejected(Reject.EMPTY, f"file has {len(data)} bytes and no text")
    if _HTML_START.match(data.removeprefix(b"\xef\xbb\xbf")[:4096]):
        raise DumpRejected(Reject.HTML, "file is an HTML page; expected the page's text dump", 1)
    return text


def split_blocks(text: str) -> list[Block]:
    """Split text into blocks separated by blank (or whitespace-only) lines."""
    blocks: list[Block] = []
    current: list[str] = []
    start = 0
    # splitlines() also ends lines at CR, CRLF and Unicode separators: all noise here.
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line:
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append(Block(" ".join(current), start))
            current = []
    if current:
        blocks.append(Block(" ".join(current), start))
    return blocks


def month_number(word: str) -> int | None:
    """``Mar``, ``mar.``, ``March`` and ``Sept`` are months; other words are not."""
    lowered = word.lower()
    number = MONTHS.get(lowered[:3])
    if number is None or not _FULL_MONTHS[number - 1].startswith(lowered):
        return None
    return number


def resolve_listed_on(month: int, day: int, captured_on: date) -> date | None:
    """The latest ``month``/``day`` on or before the day after ``captured_on``
    (:data:`ZONE_AHEAD`); None if it never exists.

    Eight years back is enough to reach a leap day from any capture date.
    """
    latest = captured_on + ZONE_AHEAD
    for year in range(latest.year, latest.year - 9, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= latest:
            return candidate
    return None


def date_label(text: str) -> tuple[int, int] | None:
    """(month, day) when a block is a date label such as ``Mar 14``, else None (the day
    may still be impossible: ``Feb 30``)."""
    if len(text) > _LABEL_MAX_CHARS:  # most blocks: every block of a page is looked at
        return None
    match = _DATE_LABEL.fullmatch(text)
    month = None if match is None else month_number(match["month"])
    return None if match is None or month is None else (month, int(match["day"]))


def find_date_label(blocks: list[Block], captured_on: date) -> tuple[int, date]:
    """Index of the date-label block and the date it stands for."""
    for index, block in enumerate(blocks):
        label = date_label(block.text)
        if label is None:
            continue
        listed_on = resolve_listed_on(*label, captured_on)
        if listed_on is None:
            raise DumpRejected(
                Reject.IMPOSSIBLE_DATE,
                f"date label {block.text!r} is not a calendar date",
                block.line,
            )
        return index, listed_on
    near = next((block for block in blocks if _near_label(block.text)), None)
    raise DumpRejected(
        Reject.NO_DATE_LABEL,
        f"no date label such as 'Mar 14' among {len(blocks)} text blocks"
        + (
            ""
            if near is None
            else f"; {near.text!r} is close, but a label is a month and a day alone"
        ),
        None if near is None else near.line,
    )


def _second_label(page: list[Block], index: int) -> bool:
    """Whether ``page[index]`` is a second page's date label: it reads as one, and what
    follows it is no abstract (a title, or nothing).  A title such as "Octo 2" or "May 7"
    reads as a label too, but its abstract follows it."""
    after = page[index + 1] if index + 1 < len(page) else None
    return date_label(page[index].text) is not None and (
        after is None or not could_be_abstract(after.text)
    )


def _near_label(text: str) -> bool:
    """A short block starting with a month and a day but not a label (``Feb 5, 2025``,
    ``Mar 14 (updated)``): named in the error, the page's format may have changed."""
    match = _DATE_LABEL.match(text)
    return (
        len(text) <= _NEAR_LABEL_MAX_CHARS
        and match is not None
        and month_number(match["month"]) is not None
        and not text[match.end() :][:1].isdigit()
    )


def looks_like_abstract(text: str) -> bool:
    """Abstracts are paragraphs: long and with at least one sentence break inside."""
    return len(text) >= _ABSTRACT_MIN_CHARS and _SENTENCE_BREAK.search(text) is not None


def could_be_abstract(text: str) -> bool:
    """Where an abstract is expected: a paragraph, or any text ending a sentence.

    Titles do not end with a full stop, so a block that does not is taken for the next
    title; a question or exclamation mark does not count ("Is Attention All You Need?",
    "SWE-bench Goes Live!" are titles: after a title that lost its abstract, the next title
    ending in "!" was taken for its abstract, and its own paper lost; 6 of the 200 real
    days have such a title, and their entries are the same either way).
    """
    return looks_like_abstract(text) or _SENTENCE_END.search(text) is not None


def pair_entries(blocks: list[Block]) -> tuple[list[Entry], list[EntryProblem]]:
    """Pair title and abstract blocks, isolating damage instead of shifting the pairing.

    The block after a title is its abstract if it reads like one (see
    :func:`could_be_abstract`); otherwise it is the next title and the first lost its
    abstract.  A paragraph where a title is expected is an abstract that lost its title.
    Positions are page ranks: every title, paired or not, takes one.
    """
    entries: list[Entry] = []
    problems: list[EntryProblem] = []
    position = 0
    i, n = 0, len(blocks)
    while i < n:
        block = blocks[i]
        if looks_like_abstract(block.text):
            problems.append(
                EntryProblem(
                    Reject.ABSTRACT_WITHOUT_TITLE,
                    f"paragraph of {len(block.text)} chars where a title was expected",
                    block.line,
                )
            )
            i += 1
            continue
        position += 1
        nxt = blocks[i + 1] if i + 1 < n else None
        lost_abstract = nxt is None or not could_be_abstract(nxt.text)
        if lost_abstract:
            where = "at the end of the dump" if nxt is None else "before the next title"
            problems.append(
                EntryProblem(
                    Reject.MISSING_ABSTRACT,
                    f"title has no abstract {where}",
                    block.line,
                    position,
                    block.text,
                )
            )
            i += 1
            continue
        assert nxt is not None
        entries.append(Entry(position, block.text, nxt.text, block.line))
        i += 2
    return entries, problems


def parse_dump(data: bytes, captured_on: date) -> ParsedDump:
    """Parse a whole dump.  Raises :class:`DumpRejected` for whole-file rejects."""
    blocks = split_blocks(decode_dump(data))
    label_index, listed_on = find_date_label(blocks, captured_on)
    label = blocks[label_index]
    page = blocks[label_index + 1 :]
    again = next(
        (
            block
            for i, block in enumerate(page)
            if len(block.text) <= _BANNER_OR_LABEL_CHARS
            and (block.text == BANNER or _second_label(page, i))
        ),
        None,
    )
    if again is not None:
        what = (
            f"banner {BANNER!r} comes again"
            if again.text == BANNER
            else f"second date label {again.text!r}"
        )
        raise DumpRejected(
            Reject.SEVERAL_PAGES,
            f"the page's {what} after the date label {label.text!r} (line {label.line}): "
            f"two captures in one file? (one page per file)",
            again.line,
        )
    entries, problems = pair_entries(page)
    if not entries:
        raise DumpRejected(
            Reject.NO_ENTRIES,
            f"no title+abstract pairs after the date label {label.text!r}"
            + (f" ({len(problems)} damaged entries)" if problems else ""),
            label.line,
        )
    return ParsedDump(label.text, label.line, listed_on, entries, problems)


_NAME_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def capture_date_from_name(name: str) -> date | None:
    """The first valid ``YYYY-MM-DD`` in a file name, if any."""
    for match in _NAME_DATE.finditer(name):
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
    return None
