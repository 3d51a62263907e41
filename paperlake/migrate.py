"""Getting a warehouse onto (or back onto) its DuckLake catalog, never deleting data.

* ``paperlake migrate``: a warehouse in the old manifest layout (``_manifests/CURRENT``
  naming the Parquet parts of each table) is copied into a new catalog in one transaction;
  the old manifests and parts are then moved, not deleted, to ``pre-ducklake/``.
* ``paperlake rebuild``: a lost or damaged catalog.  The damaged catalog and the data
  files are moved aside (``lake/before-rebuild-<time>/``) and every input of the raw
  archive is ingested again.  The archive keeps bytes, not file names, so each dump's
  capture date is taken from the ``dumps`` rows still readable in the old data files
  (else the archive file's time) and ``source_file`` then names the archived copy.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from paperlake.lake import CATALOG, DATA, Warehouse
from paperlake.schemas.tables import PUBLISHED, SUMMARIES, polars_schema
from paperlake.summaries import summarize

OLD_MANIFESTS = "_manifests"
OLD_BACKUP = "pre-ducklake"


def migrate(store: Warehouse) -> dict[str, int]:
    """Copy the old layout's current version into a new catalog; return rows per table.

    A migration stopped midway is resumed wherever it stopped: each old file is read where
    it is (still in ``lake/``, or moved to ``pre-ducklake/``), the folders not moved yet
    are moved, and a lake that holds nothing yet is written again."""
    backup = store.root / OLD_BACKUP
    pointer = store.root / OLD_MANIFESTS / "CURRENT"
    if not pointer.exists():
        pointer = backup / OLD_MANIFESTS / "CURRENT"  # moved last: only the commit was left
        if not pointer.exists():
            raise SystemExit(f"paperlake: {store.root} has no old-layout warehouse to migrate")
        if not _lake_is_empty(store):
            raise SystemExit(f"paperlake: {store.root} is migrated already (see pre-ducklake/)")

    def located(rel: str) -> str:  # rel: lake/<folder>/<part>, moved to pre-ducklake/<folder>/
        here = store.root / rel
        return str(here if here.exists() else backup / rel.split("/", 1)[1])

    document = json.loads((pointer.parent / pointer.read_text().strip()).read_text())
    frames = {
        name: pl.scan_parquet(
            [located(rel) for rel in document["tables"][name]],
            schema=polars_schema(PUBLISHED[name]),
            missing_columns="insert",
            extra_columns="ignore",
        ).collect()
        for name in PUBLISHED
        if document["tables"].get(name)
    }
    backup.mkdir(exist_ok=True)
    for folder in {rel.split("/")[1] for rels in document["tables"].values() for rel in rels}:
        if (store.root / "lake" / folder).exists():  # each folder moves whole, by rename
            os.replace(store.root / "lake" / folder, backup / folder)
    if (store.root / OLD_MANIFESTS).exists():
        os.replace(store.root / OLD_MANIFESTS, backup / OLD_MANIFESTS)
    with store.session(adopt_raw=True):
        store.recover()  # the files a stopped migration wrote and never committed
        run = store.begin(f"{datetime.now(UTC):%Y%m%dT%H%M%S}-migrate")
        run.append(frames)
        missing = SUMMARIES - frames.keys()  # summaries the old layout did not have
        for name, part in summarize(run, frames) if missing else ():
            if name in missing:
                run.append({name: part})
        run.commit()
    return dict(run.rows)


def _lake_is_empty(store: Warehouse) -> bool:
    """Whether the lake has no catalog yet, or one whose tables hold no row."""
    if not store.catalog_path.exists():
        return True
    with store.session(create=False):
        return all(store.scan(name).select(pl.len()).collect().item() == 0 for name in PUBLISHED)


def capture_dates(folder: Path) -> dict[str, date]:
    """dump_id -> captured_on from every readable ``dumps`` data file under ``folder``: the
    earliest folder's first (``before-rebuild-<time>`` names sort by time), so a rebuild
    stopped and run again still finds the dates the first one moved aside."""
    dates: dict[str, date] = {}
    for frame in _readable(folder, "dumps", ["dump_id", "captured_on"]):
        for dump_id, captured_on in zip(frame["dump_id"], frame["captured_on"], strict=True):
            dates.setdefault(dump_id, captured_on)
    return dates


def never_read(folder: Path) -> list[str]:
    """The inputs quarantined as never read (no bytes, so nothing in the raw archive) in
    every readable ``quarantine`` data file under ``folder``: a rebuild cannot list them
    again, and says so (it dropped them silently)."""
    paths: set[str] = set()
    for frame in _readable(folder, "quarantine", ["source_file", "dump_id", "scope"]):
        unread = frame.filter(pl.col("dump_id").is_null() & (pl.col("scope") == "file"))
        paths.update(unread["source_file"])
    return sorted(paths)


def _readable(folder: Path, table: str, columns: list[str]) -> Iterator[pl.DataFrame]:
    """``columns`` of each readable data file of ``table`` under ``folder``, in path order
    (the asides' names sort by time); a damaged file is skipped: what it held cannot be
    told (a dump of it falls back to its archived copy's time)."""
    for path in sorted(folder.rglob("*.parquet")):
        if table not in path.parts:
            continue
        try:
            yield pl.read_parquet(path, columns=columns)
        except (pl.exceptions.PolarsError, OSError):
            continue


def prepare_rebuild(store: Warehouse, landing: Path) -> int:
    """Move the catalog, data and views aside and link every archived input into
    ``landing`` under a name carrying its capture date; return how many inputs.  The views
    go too: they name the data files moved, and a reader must not answer from them while
    the rebuild holds the new catalog (their snapshot id may be one the new lake has)."""
    aside = store.root / "lake" / f"before-rebuild-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    aside.mkdir(parents=True)
    views = store.db_path.relative_to(store.root).as_posix()
    for rel in (DATA, CATALOG, CATALOG + ".wal", views, views + ".wal"):
        if (store.root / rel).exists():
            os.replace(store.root / rel, aside / Path(rel).name)
    dates = capture_dates(aside.parent)  # every aside: an earlier rebuild may have stopped
    with store.session(adopt_raw=True):
        pass  # a new, empty catalog: the ingest that follows fills it
    landing.mkdir(parents=True, exist_ok=True)
    count = 0
    for raw in sorted((store.root / "raw").rglob("*.txt")):
        when = dates.get(raw.stem)
        target = landing / (f"{when.isoformat()}_{raw.name}" if when else raw.name)
        try:
            os.link(raw, target)
        except OSError:
            shutil.copy2(raw, target)
        count += 1
    return count
