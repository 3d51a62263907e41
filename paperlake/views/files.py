"""The hand-written SQL files of the views: which exist, what each defines and reads, and the
order that lets each run after the files it reads (no retries: derived from the SQL)."""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
"""``sql/staging/*.sql`` (internal views that compute), ``sql/*.sql`` (the public views)."""


class ViewError(RuntimeError):
    """A SQL file failed to create its view; the message names the file."""


def sql_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The hand-written views and macros: ``sql/staging/*.sql`` and ``sql/*.sql``."""
    return sorted((sql_dir / "staging").glob("*.sql")) + sorted(sql_dir.glob("*.sql"))


def public_views(sql_dir: Path = SQL_DIR) -> list[str]:
    """Names of the public views defined in ``sql/*.sql`` (table macros are not views)."""
    return [
        name
        for path in sorted(sql_dir.glob("*.sql"))
        for kind, name in definitions(path.read_text())
        if kind == "view"
    ]


def header(text: str) -> list[str]:
    """The leading ``--`` comment lines of a SQL file, without the markers."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[3:] if line.startswith("-- ") else line[2:])
    return lines


def summarized(lines: list[str]) -> tuple[str, str, list[str]]:
    """A header's name, its first sentence (``name: ...``, continued on the lines after
    until it ends, so no sentence is cut by the code block), and the lines after it."""
    name, _, first = lines[0].partition(":")
    summary, rest = [first.strip()], lines[1:]
    while (
        rest
        and rest[0].strip()
        and not summary[-1].endswith((".", ":"))
        and not rest[0].startswith((" ", "Grain:", "Example:"))
    ):
        summary.append(rest.pop(0).strip())
    return name.strip(), " ".join(summary), rest


_COMMENT_OR_STRING = re.compile(r"--[^\n]*|'(?:[^']|'')*'")
_DEFINES = re.compile(r"\bcreate\s+or\s+replace\s+(view|macro)\s+(?:\w+\.)?(\w+)", re.I)
_READS = re.compile(r"\b(?:from|join)\s+(?:\w+\.)?(\w+)", re.I)
_CTE = re.compile(r"(?:\bwith|,)\s*(\w+)\s+as\s*\(", re.I)


def _code(sql: str) -> str:
    """``sql`` without its comments and string literals."""
    return _COMMENT_OR_STRING.sub(" ", sql)


def definitions(sql: str) -> list[tuple[str, str]]:
    """(kind: ``view`` or ``macro``, name) of each view and macro ``sql`` creates."""
    return [(kind.lower(), name) for kind, name in _DEFINES.findall(_code(sql))]


def relations(sql: str) -> tuple[set[str], set[str]]:
    """(names ``sql`` creates, relations it reads with ``from``/``join``), schema dropped;
    its own CTEs are not relations it reads.  Comments and string literals are ignored."""
    code = _code(sql)
    defines = {name for _, name in _DEFINES.findall(code)}
    return defines, set(_READS.findall(code)) - set(_CTE.findall(code)) - defines


def build_order(files: list[Path], provided: set[str]) -> list[Path]:
    """``files`` ordered so each comes after the files defining what it reads.

    ``provided`` names exist before any file runs (the generated staging views).  A name
    defined twice, or files reading each other in a cycle, is a :class:`ViewError`; a
    relation nobody defines is left to DuckDB, whose error (wrapped with the file's path
    by :func:`paperlake.views.build.create_sql_views`) names it.
    """
    definer: dict[str, Path] = {}
    reads: dict[Path, set[str]] = {}
    for path in files:
        defines, reads[path] = relations(path.read_text())
        for name in defines:
            if name in provided or name in definer:
                other = "a generated staging view" if name in provided else definer[name]
                raise ViewError(f"{path}: defines {name}, already defined by {other}")
            definer[name] = path
    graph = {
        path: {definer[name] for name in names if name in definer} for path, names in reads.items()
    }
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        loop = " -> ".join(str(path) for path in cycle.args[1])
        raise ViewError(f"the views read each other in a cycle: {loop}") from None
