"""What a dashboard section shows: its :class:`Section` (question, HTML, chart), and the
text, dates, counts and tables of its HTML, formatted and escaped for the page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Section:
    question: str
    body: str = ""
    """HTML below the chart: a table or a note."""
    chart: dict[str, Any] | None = None
    """A Vega-Lite spec with its data inline."""


# ---- formatting ---------------------------------------------------------------------------
_TEXT_ESCAPES = str.maketrans({"/": "&#47;", "(": "&#40;", "@": "&#64;"})


def text(value: object) -> str:
    """HTML-escaped text; slashes, brackets and at signs as entities so that no URL,
    ``url(`` or ``@import`` in the data reads as a reference to ``external_references``."""
    return html.escape(str(value)).translate(_TEXT_ESCAPES)


def day(value: date | datetime | None) -> str:
    """``Mar 14, 2025`` (``Mar 14, 2025 06:02 UTC`` for a timestamp); ``-`` if missing."""
    if value is None:
        return "-"
    if isinstance(value, datetime):  # DuckDB hands timestamps over in the local time zone
        value = value.astimezone(UTC)
        return f"{value:%b} {value.day}, {value.year} {value:%H:%M} UTC"
    return f"{value:%b} {value.day}, {value.year}"


def count(value: int | None) -> str:
    return f"{value or 0:,}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], compact: set[int]) -> str:
    """An HTML table of already formatted cells; ``compact`` columns (counts, dates)
    align right and never wrap."""
    if not rows:
        return '<p class="empty">Nothing yet.</p>'

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f'<{tag} class="{"num" if i in compact else "text"}" data-label="{text(h)}">{v}</{tag}>'
            for i, (h, v) in enumerate(zip(headers, values, strict=True))
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (
        f'<div class="table-wrap"><table><thead><tr>{cells("th", headers)}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )
