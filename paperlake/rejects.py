"""The catalogue of quarantine reasons: stable codes that users filter and alert on."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Scope = Literal["file", "entry", "row"]
"""What a quarantine row rejects: a whole input, one entry of a dump, or one table row."""


class Reject(StrEnum):
    # Whole files.
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    BINARY = "binary"
    NOT_UTF8 = "not_utf8"
    HTML = "html"
    NO_DATE_LABEL = "no_date_label"
    IMPOSSIBLE_DATE = "impossible_date"
    NO_ENTRIES = "no_entries"
    SEVERAL_PAGES = "several_pages"
    UNREADABLE = "unreadable"
    # Single entries inside an otherwise good dump.
    MISSING_ABSTRACT = "missing_abstract"
    ABSTRACT_WITHOUT_TITLE = "abstract_without_title"
    # A row that failed its Pandera contract; the detail names the check.
    SCHEMA = "schema"


FILE_REASONS = frozenset(
    {
        Reject.EMPTY,
        Reject.TOO_LARGE,
        Reject.BINARY,
        Reject.NOT_UTF8,
        Reject.HTML,
        Reject.NO_DATE_LABEL,
        Reject.IMPOSSIBLE_DATE,
        Reject.NO_ENTRIES,
        Reject.SEVERAL_PAGES,
        Reject.UNREADABLE,
    }
)
