"""``bench/RESULTS.md``: one ``## `` section per benchmark, each rewritten only by its own.

The text before the first section is ``bench.run``'s table; every other benchmark replaces
its own section (or appends it) and keeps the rest, so no run erases another's figures."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(title: str | None, body: str, results: Path = RESULTS) -> None:
    """Replace the ``## title`` section (``None``: the text before the first section)."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    head, *parts = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    sections = [part.rstrip() + "\n\n" for part in parts]  # the last one ends the file bare
    if title is None:
        head = body.rstrip() + "\n\n"
    else:
        section = f"## {title}\n\n{body.strip()}\n\n"
        mine = [i for i, s in enumerate(sections) if s.startswith(f"## {title}\n")]
        if mine:
            sections[mine[0]] = section
        else:
            sections.append(section)
    results.write_text((head + "".join(sections)).rstrip() + "\n")
