"""Do two code trees publish the same rows?  Proof that an optimisation changed no output.

    python -m bench.same_tables --before /tmp/paperlake-main DUMPS [DUMPS ...]

For each folder of dumps, backfills it once with the code of ``--before`` (a checkout of
the old commit) and once with this tree's, each through the real flow in its own process
(``bench.worker backfill``, run from the tree's root so that tree's ``paperlake`` is
imported), then compares every lake table, read through DuckLake, and every public view,
read through the read-only door, row for row (as multisets), leaving out only what differs
between any two runs: run ids and timestamps (``run_id``, ``*_at``).  A lake table only
this tree has (a new summary) is listed, not compared: the views that read it are.
Exits 1 if any table or view differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import polars as pl

from bench.common import ROOT, worker
from paperlake.lake import Warehouse
from paperlake.schemas.tables import PUBLISHED
from paperlake.views import open_read_only, public_views

VOLATILE = ("run_id",)
"""Columns that differ between any two runs (with the ``_at`` timestamps)."""


def backfill(tree: Path, dumps: Path, warehouse: Path) -> None:
    figures = worker("backfill", str(dumps), str(warehouse), tree=tree)
    print(f"  {tree}: {figures}", file=sys.stderr)


def _stable(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(c for c in frame.columns if c not in VOLATILE and not c.endswith("_at"))


def _table(warehouse: Path, table: str) -> pl.DataFrame:
    """The table as the lake's current snapshot holds it, volatile columns left out."""
    store = Warehouse(warehouse)
    with store.session(create=False):
        return _stable(store.scan(table).collect())


def _view(warehouse: Path, view: str) -> pl.DataFrame:
    with open_read_only(warehouse) as con:
        return _stable(pl.DataFrame(con.sql(f"SELECT * FROM {view}")))


def differences(before: Path, after: Path, new: set[str]) -> dict[str, tuple[int, int, int]]:
    """Per table, then per view: (rows before, rows after, rows in one and not the other);
    a table in ``new`` (only this tree has it) is (0, rows, 0)."""
    found = {}
    # the views first: opening a lake's session could rebuild its views with this tree's SQL
    pairs = {f"view {v}": (_view(before, v), _view(after, v)) for v in public_views()}
    for name in PUBLISHED:
        if name in new:
            found[f"{name} (new)"] = (0, _table(after, name).height, 0)
        else:
            pairs[name] = (_table(before, name), _table(after, name))
    for table, (a, b) in pairs.items():
        counts = [f.group_by(f.columns).len().cast({"len": pl.Int64}) for f in (a, b)]
        both = counts[0].join(counts[1], on=a.columns, how="full", nulls_equal=True, coalesce=True)
        n_diff = both.select(
            (pl.col("len").fill_null(0) - pl.col("len_right").fill_null(0)).abs().sum()
        ).item()
        found[table] = (a.height, b.height, int(n_diff))
    return found


def new_tables(before_tree: Path) -> set[str]:
    """The lake tables of this tree that the ``before`` tree's contracts do not name."""
    contracts = (before_tree / "schemas" / "tables.py").read_text()
    return {name for name in PUBLISHED if f'"{name}"' not in contracts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the old code's tree")
    parser.add_argument("dumps", type=Path, nargs="+")
    args = parser.parse_args()
    same, new = True, new_tables(args.before)
    for dumps in args.dumps:
        with tempfile.TemporaryDirectory(prefix="paperlake-same-") as tmp:
            before, after = Path(tmp) / "before", Path(tmp) / "after"
            backfill(args.before.resolve(), dumps.resolve(), before)
            backfill(ROOT, dumps.resolve(), after)
            print(f"{dumps}:")
            for table, (n_before, n_after, n_diff) in differences(before, after, new).items():
                verdict = "identical" if n_diff == 0 else f"{n_diff} rows DIFFER"
                verdict = "only this tree has it" if table.endswith("(new)") else verdict
                print(f"  {table}: {n_before:,} / {n_after:,} rows, {verdict}")
                same = same and n_diff == 0
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
