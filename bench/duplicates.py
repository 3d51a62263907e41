"""Time the full ``title_pairs`` build (every paper against every paper) at 20k and 200k papers.

    python -m bench.duplicates                       # current blocking vs the one before it
    python -m bench.duplicates --sizes 20000 --limit 120

Two kinds of synthetic titles: ``real`` ones, each a real title from ``<repo>/../shared/real``
(``PAPERLAKE_SHARED`` overrides) with half of its words replaced by words drawn from all real
titles, so word frequencies stay realistic; and ``generate`` ones, made by ``bench.generate``
from the samples' small vocabulary.  One title in 200 gets a planted near-copy (two letters
of its longest word swapped) that the build must find.  The "before" query is
``sql/summaries/title_pairs.sql`` at ``--before`` (a git revision), run the
same way; the "after" build is this tree's three queries: ``title_words.sql`` indexes every
title, ``title_keys.sql`` keys them, then ``title_pairs.sql`` pairs them (a backfill's
run, with nothing stored before it).
A run longer than ``--limit`` seconds is interrupted and reported as such.  Prints
wall and CPU seconds with the load average (the machine may be shared); data goes to a
temporary folder, never into the repository.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from bench.generate import _new_paper, learn_vocabulary
from paperlake.normalize import paper_id, title_key
from paperlake.parse import parse_dump
from paperlake.summaries import (
    MAX_BLOCK,
    TITLE_KEYS_SQL,
    TITLE_MACROS_SQL,
    TITLE_WORDS_SQL,
    title_pairs_sql,
)
from tests.dumps import with_typo

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "824d20e"
"""main before blocking by rare words: blocks were the first/last 12 letters of the key."""


def real_titles() -> list[str]:
    shared = Path(os.environ.get("PAPERLAKE_SHARED", ROOT.parent / "shared"))
    titles = []
    for path in sorted((shared / "real").glob("*_real.txt")):
        day = path.name[:10]
        parsed = parse_dump(path.read_bytes(), date.fromisoformat(day))
        titles += [entry.title for entry in parsed.entries]
    return titles


def real_shaped(real: list[str]) -> Callable[[random.Random, int], str]:
    pool = [word for title in real for word in title.split()]

    def title(rng: random.Random, serial: int) -> str:
        words = rng.choice(real).split()
        return " ".join(w if rng.random() < 0.5 else rng.choice(pool) for w in words)

    return title


def generate_shaped() -> Callable[[random.Random, int], str]:
    vocabulary = learn_vocabulary()
    return lambda rng, serial: _new_paper(rng, vocabulary, serial).title


def synthetic_papers(
    make_title: Callable[[random.Random, int], str], n: int, seed: int = 7
) -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    """``n`` papers (paper_id, title, title_key) and the planted pairs among them."""
    rng = random.Random(seed)
    rows: dict[str, tuple[str, str]] = {}
    planted: set[tuple[str, str]] = set()
    while len(rows) < n:
        title = make_title(rng, len(rows))
        key = title_key(title)
        if key in rows:
            continue
        rows[key] = (paper_id(key), title)
        if rng.random() < 1 / 200:
            copy = with_typo(title)
            copy_key = title_key(copy)
            if copy_key not in rows and copy_key != key:
                rows[copy_key] = (paper_id(copy_key), copy)
                a, b = sorted((paper_id(key), paper_id(copy_key)))
                planted.add((a, b))
    frame = pl.DataFrame(
        [(pid, title, key) for key, (pid, title) in rows.items()],
        schema=["paper_id", "title", "title_key"],
        orient="row",
    )
    return frame, planted


Pairs = set[tuple[str, str]]


def after_build() -> list[str]:
    """This tree's full build: every title indexed into an empty title_words, keyed, then
    paired.  Every word of every title is kept (a run keeps a word's first ``MAX_BLOCK + 1``
    titles, ``paperlake.summaries.first_titles``): the keys, hence the pairs, are the same,
    since a word more titles share cannot block."""
    words = TITLE_WORDS_SQL.read_text().replace("titles_to_index", "every_paper")
    return [
        TITLE_MACROS_SQL.read_text(),  # the integers title_words stores
        "create table stored_words (word ubigint, paper_id ubigint, is_end boolean)",
        # a title's repeats once
        f"create table new_words as select distinct word, paper_id, is_end from ({words})",
        f"create table title_keys as {TITLE_KEYS_SQL.read_text()}",
        title_pairs_sql(),
    ]


def timed_build(
    statements: list[str], papers: Path, limit: float
) -> tuple[float, float, Pairs | None]:
    """(wall s, CPU s, pairs) of one full build (its last statement's rows are the pairs);
    pairs is None when interrupted at ``limit``."""
    with duckdb.connect() as con:
        timer = threading.Timer(limit, con.interrupt)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        timer.start()
        try:
            # The query names its inputs as the run's transaction does (new_papers,
            # every_paper); the old one took $new/$every part-file lists.
            con.execute(f"create view new_papers as from read_parquet('{papers}')")
            con.execute("create view every_paper as from new_papers")
            for sql in statements:
                if "$new" in sql:
                    params: dict[str, object] | None = {
                        "new": [str(papers)],
                        "every": [str(papers)],
                    }
                else:
                    params = {"max_block": MAX_BLOCK} if "$max_block" in sql else None
                rows = con.execute(sql, params).fetchall()
            pairs: Pairs | None = {(a, b) for a, b, _ in rows}
        except duckdb.InterruptException:
            pairs = None
        finally:
            timer.cancel()
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return wall, (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime), pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--before", default=BEFORE, help="git revision of the old query")
    parser.add_argument("--titles", nargs="+", default=["real", "generate"])
    parser.add_argument("--limit", type=float, default=300.0, help="seconds per build")
    args = parser.parse_args()
    queries = {
        f"before ({args.before})": [
            subprocess.run(
                ["git", "show", f"{args.before}:sql/summaries/title_pairs.sql"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        ],
        "after": after_build(),
    }
    shapes = {"real": lambda: real_shaped(real_titles()), "generate": generate_shaped}
    print(f"duckdb {duckdb.__version__}, {os.cpu_count()} cores")
    print("| titles | papers | query | wall s | CPU s | pairs | planted found | load avg |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for shape, size in [(shape, size) for shape in args.titles for size in args.sizes]:
            frame, planted = synthetic_papers(shapes[shape](), size)
            path = Path(tmp) / f"papers_{shape}_{size}.parquet"
            frame.write_parquet(path)
            for name, sql in queries.items():
                wall, cpu, pairs = timed_build(sql, path, args.limit)
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                if pairs is None:
                    found, n_pairs, shown = "-", "-", f"> {args.limit:.0f} (stopped)"
                else:
                    found = f"{len(planted & pairs)}/{len(planted)}"
                    n_pairs, shown = f"{len(pairs):,}", f"{wall:.1f}"
                cells = [shape, f"{size:,}", name, shown, f"{cpu:.1f}", n_pairs, found, load]
                print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
