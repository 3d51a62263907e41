"""The lake's storage protocol: immutable parts, manifest swap, recovery, lock."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from paperlake.lake import Manifest, Warehouse, WarehouseBusy
from paperlake.schemas.tables import PUBLISHED, polars_schema
from paperlake.views import build_database, ensure_database

PAPER = {
    "paper_id": "0123456789abcdef",
    "title_key": "atitle",
    "title": "A title",
    "abstract": "An abstract.",
    "first_dump_id": "a" * 64,
    "taxonomy_version": "t1",
}


def papers(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=polars_schema(PUBLISHED["papers"]))


def commit(store: Warehouse, frames: dict[str, pl.DataFrame], run_id: str) -> Manifest:
    """Append ``frames`` to the current version and publish at once, as a run does."""
    return store.publish(store.stage(frames, run_id, store.current()))


def test_empty_warehouse_has_typed_empty_tables(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    assert store.current().version == 0
    assert store.scan("papers").collect().schema == polars_schema(PUBLISHED["papers"])
    build_database(store, store.current())
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        assert con.execute("select count(*) from papers").fetchall() == [(0,)]
        assert con.execute("select count(*) from quarantine").fetchall() == [(0,)]


def test_commit_appends_immutable_parts_and_swaps_the_pointer(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    first = commit(store, {"papers": papers(PAPER)}, "run1")
    second = commit(
        store,
        {"papers": papers(PAPER | {"paper_id": "fedcba9876543210", "title_key": "b"})},
        "run2",
    )
    assert (first.version, second.version) == (1, 2)
    assert len(second.tables["papers"]) == 2
    assert second.tables["papers"][0] == first.tables["papers"][0]
    assert (tmp_path / "_manifests" / "CURRENT").read_text() == "00000002.json"
    assert store.scan("papers").collect().height == 2
    assert store.scan("papers", first).collect().height == 1  # old versions stay readable


def test_recover_removes_only_unpublished_files(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    manifest = commit(store, {"papers": papers(PAPER)}, "run1")
    orphan = tmp_path / "lake" / "papers" / "crashed-run.parquet"
    orphan.write_bytes(b"half a parquet file")
    tmp_part = tmp_path / "lake" / "papers" / ".x.parquet.tmp"
    tmp_part.write_bytes(b"")
    tmp_db = tmp_path / ".paperlake.duckdb.tmp-123"
    tmp_db.write_bytes(b"")
    (tmp_path / ".dashboard.html.tmp-123").write_bytes(b"<!doctype html><html")
    removed = store.recover()
    assert removed == sorted(
        [
            ".dashboard.html.tmp-123",
            ".paperlake.duckdb.tmp-123",
            "lake/papers/.x.parquet.tmp",
            "lake/papers/crashed-run.parquet",
        ]
    )
    assert all((tmp_path / rel).exists() for rel in manifest.tables["papers"])
    assert store.scan("papers").collect().height == 1


def test_views_are_rebuilt_when_stale_or_moved(tmp_path: Path) -> None:
    store = Warehouse(tmp_path / "a")
    commit(store, {"papers": papers(PAPER)}, "run1")
    assert ensure_database(store) is True
    assert ensure_database(store) is False
    commit(store, {"papers": papers(PAPER | {"paper_id": "1" * 16, "title_key": "x"})}, "run2")
    assert ensure_database(store) is True
    (tmp_path / "a").rename(tmp_path / "b")
    moved = Warehouse(tmp_path / "b")
    assert ensure_database(moved) is True  # absolute paths pointed at the old place
    with duckdb.connect(str(moved.db_path), read_only=True) as con:
        assert con.execute("select count(*) from internal.lake_papers").fetchall() == [(2,)]


def test_schema_evolution_old_parts_without_a_new_column(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    old = papers(PAPER).drop("taxonomy_version")  # written before the column existed
    manifest = commit(store, {"papers": old}, "run1")
    assert store.scan("papers").collect()["taxonomy_version"].to_list() == [None]
    build_database(store, manifest)
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        assert con.execute(
            "select title, taxonomy_version from internal.lake_papers"
        ).fetchall() == [("A title", None)]


def test_reader_keeps_its_snapshot_while_a_run_publishes(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    build_database(store, commit(store, {"papers": papers(PAPER)}, "run1"))
    reader = duckdb.connect(str(store.db_path), read_only=True)
    try:
        manifest = commit(
            store, {"papers": papers(PAPER | {"paper_id": "1" * 16, "title_key": "x"})}, "run2"
        )
        build_database(store, manifest)  # must not be blocked by the open reader
        assert reader.execute("select count(*) from internal.lake_papers").fetchall() == [(1,)]
    finally:
        reader.close()
    with duckdb.connect(str(store.db_path), read_only=True) as fresh:
        assert fresh.execute("select count(*) from internal.lake_papers").fetchall() == [(2,)]


def test_lock_is_exclusive_and_says_who_holds_it(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    with (
        store.lock(),
        pytest.raises(
            WarehouseBusy,
            match=r"another run holds the warehouse .* since "
            r"\d{4}-\d\d-\d\dT.*\(pid \d+ on ",
        ),
        Warehouse(tmp_path).lock(),
    ):
        pass
    with store.lock():  # released on exit
        pass


def test_archive_is_content_addressed(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    dump_id, rel = store.archive(b"hello")
    assert rel == f"raw/{dump_id[:2]}/{dump_id}.txt"
    assert store.archive(b"hello") == (dump_id, rel)
    assert (tmp_path / rel).read_bytes() == b"hello"


def test_archiving_a_batch_puts_files_in_place_only_when_it_ends(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    with store.archiving():
        _, rel = store.archive(b"one")
        assert store.archive(b"one")[1] == rel  # the same bytes twice: one file
        assert not (tmp_path / rel).exists()  # not durable yet, so not in place
    assert (tmp_path / rel).read_bytes() == b"one"
    assert not list((tmp_path / "raw").rglob(".*"))  # no temp file left

    with pytest.raises(RuntimeError), store.archiving():
        _, failed = store.archive(b"two")
        raise RuntimeError("the batch failed")
    assert not (tmp_path / failed).exists()
    assert not list((tmp_path / "raw").rglob(".*"))
