"""The lake's storage: DuckLake transactions, snapshots, maintenance, recovery, lock."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from paperlake.lake import (
    LAKE,
    CatalogError,
    CommitConflict,
    CommitFailed,
    StorageUnavailable,
    Transaction,
    Warehouse,
    WarehouseBusy,
    catalog,
    maintenance,
)
from paperlake.lake.catalog import PARQUET_OPTIONS
from paperlake.lake.maintenance import MERGE_AFTER_FILES
from paperlake.lake.transaction import SPILL, one_thread
from paperlake.schemas.tables import PUBLISHED, REPLACED_BY, KeyphraseDaily, polars_schema
from paperlake.views import as_of_database, build_database, ensure_database
from paperlake.views.build import UnknownSnapshot, snapshot_at
from tests.conftest import SAMPLE_CAPTURE

PAPER = {
    "paper_id": "0123456789abcdef",
    "title_key": "atitle",
    "title": "A title",
    "abstract": "An abstract.",
    "first_dump_id": "a" * 64,
    "taxonomy_version": "t1",
}
OTHER = PAPER | {"paper_id": "1" * 16, "title_key": "x"}


def papers(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=polars_schema(PUBLISHED["papers"]))


def commit(store: Warehouse, frames: dict[str, pl.DataFrame], run_id: str) -> int:
    """Append ``frames`` in one transaction, commit and maintain, as a run does; return the
    run's snapshot."""
    with store.session():
        run = store.begin(run_id)
        run.append(frames)
        snapshot = run.commit()
        store.maintain()
        return snapshot


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    [(n,)] = con.execute(f"select count(*) from {table}").fetchall()
    return int(n)


def test_empty_warehouse_has_typed_empty_tables(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    with store.session():
        assert store.scan("papers").collect().schema == polars_schema(PUBLISHED["papers"])
        build_database(store, store.current())
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        assert count(con, "papers") == 0 and count(con, "quarantine") == 0


def test_a_run_is_one_snapshot_with_its_run_id_and_rows(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    first = commit(store, {"papers": papers(PAPER), "quarantine": pl.DataFrame()}, "run1")
    second = commit(store, {"papers": papers(OTHER)}, "run2")
    runs = [(e.version, e.run_id, e.rows) for e in store.history() if e.run_id]
    assert runs == [
        (first, "run1", {"papers": 1, "quarantine": 0}),
        (second, "run2", {"papers": 1}),
    ]
    assert store.scan("papers").collect().height == 2
    with as_of_database(store, str(first)) as old:  # time travel sees the first run only
        assert count(old, "internal.stg_papers") == 1


SNAPSHOTS = [
    (0, datetime(2026, 12, 7, 10, 0, 0, 400000, tzinfo=UTC)),
    (1, datetime(2026, 12, 7, 10, 0, 0, 800000, tzinfo=UTC)),
    (2, datetime(2026, 12, 7, 10, 0, 1, 500000, tzinfo=UTC)),
]


@pytest.mark.parametrize(
    ("as_of", "snapshot"),
    [
        ("1", 1),
        ("2026-12-07 10:00:00", 1),  # as `history` prints it: UTC, cut to the second
        ("2026-12-07 10:00:00.5", 0),
        ("2026-12-07T11:00:01+01:00", 2),
        ("2026-12-08", 2),
    ],
)
def test_as_of_reads_times_as_history_prints_them(as_of: str, snapshot: int) -> None:
    assert snapshot_at(SNAPSHOTS, as_of) == snapshot


@pytest.mark.parametrize(
    ("as_of", "said"),
    [
        ("7", "no snapshot 7 (the lake keeps snapshots 0 to 2"),
        ("2026-12-07 09:59:59", "the first the lake keeps, 0, was committed 2026-12-07 10:00:00"),
        ("yesterday", "'yesterday' is neither a snapshot number nor a timestamp"),
    ],
)
def test_an_as_of_the_lake_does_not_keep_is_named(as_of: str, said: str) -> None:
    with pytest.raises(UnknownSnapshot, match=re.escape(said)):
        snapshot_at(SNAPSHOTS, as_of)


def test_a_snapshot_from_before_the_tables_reads_as_empty(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    commit(store, {"papers": papers(PAPER)}, "run1")
    with as_of_database(store, "0") as first:  # the lake's first snapshot: no table yet
        assert count(first, "papers") == 0


def test_an_uncommitted_run_is_invisible_and_its_files_are_recovered(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    commit(store, {"papers": papers(PAPER)}, "run1")
    kept = sorted(p for p in store.data_path.rglob("*.parquet"))
    with store.session():
        store.begin("failed").append({"papers": papers(OTHER)})
        # The connection closes without a commit: DuckLake rolls back and removes its files.
    assert sorted(store.data_path.rglob("*.parquet")) == kept
    # A killed run cannot clean up: its files stay, in no snapshot.
    orphan = kept[0].with_name("ducklake-killed-run.parquet")
    orphan.write_bytes(kept[0].read_bytes())
    tmp_db = tmp_path / ".paperlake.duckdb.tmp-123"
    tmp_db.write_bytes(b"")
    (tmp_path / ".dashboard.html.tmp-123").write_bytes(b"<!doctype html><html")
    (tmp_path / "lake" / ".opened-at-snapshot.tmp-123").write_text("1")  # its session's note
    (tmp_path / SPILL).mkdir()  # what its queries spilled
    (tmp_path / SPILL / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"\0" * 4096)
    with store.session():
        assert store.scan("papers").collect().height == 1
        removed = store.recover()
    assert len(removed) == 5 and ".paperlake.duckdb.tmp-123" in removed
    assert ".dashboard.html.tmp-123" in removed and SPILL in removed
    assert "lake/.opened-at-snapshot.tmp-123" in removed
    assert not (tmp_path / SPILL).exists()
    assert sorted(store.data_path.rglob("*.parquet")) == kept


def test_a_bounded_query_spills_inside_the_warehouse_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond its memory limit a run's query spills to the warehouse's SPILL folder (never
    to DuckDB's default, ``.tmp`` in the working directory), gets the rows it would get
    unbounded, and leaves nothing behind once the run's connection is closed."""
    store = Warehouse(tmp_path / "wh")
    commit(store, {"papers": papers(PAPER)}, "run1")
    monkeypatch.chdir(tmp_path)
    table = "CREATE TEMP TABLE t AS SELECT i, repeat('x', i % 50) AS s FROM range(4000000) r(i)"
    with store.session():
        run = store.begin("spills")
        default = run.con.execute("SELECT current_setting('memory_limit')").fetchone()
        with run.bounded("64MB"):
            run.con.execute(table)
            limit = run.con.execute("SELECT current_setting('memory_limit')").fetchone()
            spilled = sorted(path.name for path in (store.root / SPILL).iterdir())
        answer = run.con.execute("SELECT count(*), sum(length(s)) FROM t").fetchone()
        assert run.con.execute("SELECT current_setting('memory_limit')").fetchone() == default
        run.rollback()
    assert limit == ("61.0 MiB",) and spilled  # it did spill, there
    assert answer == (4000000, sum(i % 50 for i in range(50)) * 80000)
    assert not (store.root / SPILL).exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["wh"]  # no ./.tmp


def test_a_failed_write_reports_its_own_error_not_the_setting_put_back() -> None:
    """A write that fails aborts the transaction, which then refuses every statement, the
    setting put back included: the write's own error is raised (an upload that failed
    mid-run must reach the session as the I/O error it is).  A block that succeeds gets
    its setting back."""
    con = duckdb.connect()
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(duckdb.ConversionException), one_thread(con):
        con.execute("SELECT 'not a number'::INTEGER")
    con.close()
    con = duckdb.connect()
    default = con.execute("SELECT current_setting('threads')").fetchone()
    with one_thread(con):
        assert con.execute("SELECT current_setting('threads')").fetchone() == (1,)
    assert con.execute("SELECT current_setting('threads')").fetchone() == default != (1,)


def daily_rows(*days: tuple[str, int]) -> pl.DataFrame:
    """``keyphrase_daily`` rows (phrase, day of March 2025; day 0: February 28)."""
    return pl.DataFrame(
        [
            {
                "phrase": phrase,
                "listed_on": date(2025, 3, day) if day else date(2025, 2, 28),
                "n_papers": 1,
                "n_words": 1,
                "month": date(2025, 3, 1) if day else date(2025, 2, 1),
            }
            for phrase, day in days
        ],
        schema=polars_schema(KeyphraseDaily),
    )


def stored_days(store: Warehouse) -> list[tuple[str, date]]:
    rows = store.scan("keyphrase_daily").collect().sort("listed_on", "phrase")
    return list(zip(rows["phrase"], rows["listed_on"], strict=True))


def test_a_page_date_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    """Rows written for a page date replace that date's stored rows only: the other dates
    of its month stay."""
    store = Warehouse(tmp_path)
    first = commit(store, {"keyphrase_daily": daily_rows(("a", 0), ("a", 1), ("x", 2))}, "r1")
    commit(store, {"keyphrase_daily": daily_rows(("b", 2), ("c", 2))}, "r2")
    feb28, mar1, mar2 = date(2025, 2, 28), date(2025, 3, 1), date(2025, 3, 2)
    assert stored_days(store) == [("a", feb28), ("a", mar1), ("b", mar2), ("c", mar2)]
    with store.session():  # the views read files: none may carry deleted rows
        assert store.current().tables["keyphrase_daily"]
    with as_of_database(store, str(first)) as old:
        assert count(old, "internal.stg_keyphrase_daily") == 3  # history intact


def test_a_new_page_date_is_only_appended(tmp_path: Path) -> None:
    """Rows of a page date with no stored rows delete nothing, even in a month that has
    other dates: the files already written stay current and no delete file is left."""
    store = Warehouse(tmp_path)
    commit(store, {"keyphrase_daily": daily_rows(("a", 0), ("a", 1), ("b", 2))}, "r1")
    with store.session() as con:
        before = set(store.current().tables["keyphrase_daily"])
        run = store.begin("r2")
        run.append({"keyphrase_daily": daily_rows(("a", 3), ("c", 3))})
        run.commit()
        assert not maintenance.Maintenance._has_deleted_rows(con)
        assert before < set(store.current().tables["keyphrase_daily"])
    assert [phrase for phrase, _ in stored_days(store)] == ["a", "a", "b", "a", "c"]


def live_files(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return len(con.execute("FROM ducklake_list_files(?, ?)", [LAKE, table]).fetchall())


def test_the_daily_summaries_are_not_partitioned(tmp_path: Path) -> None:
    """A backfill's page dates of several months land in one file, not one per month."""
    store = Warehouse(tmp_path)
    commit(store, {"keyphrase_daily": daily_rows(("a", 0), ("a", 1), ("b", 2))}, "r1")
    with store.session() as con:
        for table in REPLACED_BY:
            assert not catalog.Catalog._partitioned(con, table), table
        assert live_files(con, "keyphrase_daily") == 1


def test_a_lake_with_monthly_summaries_is_rewritten_once_unpartitioned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake written while the daily summaries were partitioned by month (a file per
    month) has them unpartitioned and rewritten on its next run: the same rows, in one
    file; the runs after that rewrite nothing.  A rewrite that does not commit (killed
    after the partitioning was reset) is redone by the next run."""
    store = Warehouse(tmp_path)
    with store.session() as con:
        for table in REPLACED_BY:
            con.execute(f"ALTER TABLE {LAKE}.{table} SET PARTITIONED BY (month)")
        run = store.begin("r1")
        run.append({"keyphrase_daily": daily_rows(("a", 0), ("a", 1), ("b", 2))})
        run.commit()
        assert live_files(con, "keyphrase_daily") == 2  # February's file and March's
    before = stored_days(store)

    def killed(con: duckdb.DuckDBPyConnection, table: str) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(catalog.Catalog, "_unpartition", staticmethod(killed))
        with pytest.raises(KeyboardInterrupt), store.session():
            pass
    with store.session() as con:
        assert not catalog.Catalog._partitioned(con, "keyphrase_daily")  # reset, committed
    with store.session() as con:
        for table in REPLACED_BY:
            assert not catalog.Catalog._partitioned(con, table), table
        assert live_files(con, "keyphrase_daily") == 1
        version = store.current_version()
    assert stored_days(store) == before
    with store.session():
        assert store.current_version() == version


def test_the_file_listing_agrees_with_ducklake(tmp_path: Path) -> None:
    """``Snapshots`` reads the catalog's tables itself: the same files and delete files as
    ``ducklake_list_files``, a table without files included (partitioned files: the
    migration test's lake)."""
    store = Warehouse(tmp_path)
    day = {"phrase": "a", "listed_on": date(2025, 3, 1), "n_papers": 1, "n_words": 1}
    daily = pl.DataFrame([day | {"month": date(2025, 3, 1)}], schema=polars_schema(KeyphraseDaily))
    commit(store, {"papers": papers(PAPER, OTHER), "keyphrase_daily": daily}, "r1")
    commit(store, {"papers": papers(PAPER | {"paper_id": "2" * 16, "title_key": "y"})}, "r2")
    with store.session() as con:
        con.execute(f"DELETE FROM {LAKE}.papers WHERE paper_id = ?", [OTHER["paper_id"]])
        listed = store._listing(con)
        for table in PUBLISHED:
            files = con.execute(
                "SELECT data_file, delete_file IS NOT NULL FROM ducklake_list_files(?, ?)",
                [LAKE, table],
            ).fetchall()
            assert sorted(listed[table]) == sorted(files), table
        assert any(deleted for _, deleted in listed["papers"])
        assert listed["keyphrase_daily"] and not listed["quarantine"]
        assert store._listing(con, "papers") == {"papers": listed["papers"]}


def test_maintenance_rewrites_files_with_deleted_rows_and_only_then(tmp_path: Path) -> None:
    """The rewrite is skipped when no current file has deleted rows (a daily run's commit
    only appends); after a delete it runs, and leaves no delete file."""
    store = Warehouse(tmp_path)
    commit(store, {"papers": papers(PAPER, OTHER)}, "r1")
    with store.session() as con:
        assert not maintenance.Maintenance._has_deleted_rows(con)
        con.execute(f"DELETE FROM {LAKE}.papers WHERE paper_id = ?", [OTHER["paper_id"]])
        assert maintenance.Maintenance._has_deleted_rows(con)
        store.maintain()
        assert not maintenance.Maintenance._has_deleted_rows(con)
        assert not any(deleted for _, deleted in store._listing(con, "papers")["papers"])
    assert store.scan("papers").collect()["paper_id"].to_list() == [PAPER["paper_id"]]


def test_daily_runs_keep_files_bounded(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    for day in range(3 * MERGE_AFTER_FILES):
        row = PAPER | {"paper_id": f"{day:016x}", "title_key": f"t{day}"}
        commit(store, {"papers": papers(row)}, f"run{day}")
    # Small files merge once a table has MERGE_AFTER_FILES; what a merge replaced stays for
    # readers until the next run.
    assert len(list(store.data_path.rglob("*.parquet"))) <= 2 * MERGE_AFTER_FILES
    with store.session():
        assert len(store.current().tables["papers"]) < MERGE_AFTER_FILES
        store.maintain(retention_days=0)
    runs = [e.run_id for e in store.history() if e.run_id]
    assert set(runs) <= {f"run{3 * MERGE_AFTER_FILES - 1}"}  # all but the current expired
    assert store.scan("papers").collect().height == 3 * MERGE_AFTER_FILES


def test_daily_runs_never_rewrite_a_big_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Warehouse(tmp_path)
    backfill = [PAPER | {"paper_id": f"b{n:015x}", "title_key": f"b{n}"} for n in range(500)]
    commit(store, {"papers": papers(*backfill)}, "backfill")
    with store.session():
        (big,) = store.current().tables["papers"]
    monkeypatch.setattr(maintenance, "SMALL_FILE_BYTES", Path(big).stat().st_size)
    for day in range(2 * MERGE_AFTER_FILES):
        row = PAPER | {"paper_id": f"{day:016x}", "title_key": f"t{day}"}
        commit(store, {"papers": papers(row)}, f"run{day}")
    with store.session():
        files = store.current().tables["papers"]
    assert big in files and len(files) <= MERGE_AFTER_FILES  # the small ones were merged
    assert store.scan("papers").collect().height == 500 + 2 * MERGE_AFTER_FILES


def codecs(store: Warehouse, table: str) -> set[str]:
    """The compression of every column chunk of ``table``'s current data files."""
    with store.session():
        files = store.current().tables[table]
    with duckdb.connect() as con:
        rows = con.execute("SELECT DISTINCT compression FROM parquet_metadata(?)", [files])
        return {codec for (codec,) in rows.fetchall()}


def test_the_parquet_options_hold_for_new_and_old_lakes_and_compaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PARQUET_OPTIONS["papers"]["parquet_compression"] == "zstd"
    listing = {"dump_id": "a" * 64, "listed_on": date(2025, 3, 1), "position": 1}
    listing |= {"paper_id": PAPER["paper_id"]}
    listings = pl.DataFrame([listing], schema=polars_schema(PUBLISHED["listings"]))
    new = Warehouse(tmp_path / "new")
    commit(new, {"papers": papers(PAPER), "listings": listings}, "new")
    assert codecs(new, "papers") == {"ZSTD"} and codecs(new, "listings") == {"SNAPPY"}
    # A lake made before the options: none in its catalog, DuckLake's default codec.
    with monkeypatch.context() as before:
        before.setattr(catalog, "PARQUET_OPTIONS", {})
        old = Warehouse(tmp_path / "old")
        commit(old, {"papers": papers(PAPER)}, "old")
    assert codecs(old, "papers") == {"SNAPPY"}
    # Its next runs write with the options, and compaction rewrites its old files with them.
    for day in range(MERGE_AFTER_FILES):
        row = PAPER | {"paper_id": f"{day:016x}", "title_key": f"t{day}"}
        commit(old, {"papers": papers(row)}, f"run{day}")
    assert codecs(old, "papers") == {"ZSTD"}
    with old.session() as con:
        options = con.execute(
            f"SELECT option_name, value FROM {LAKE}.options() WHERE scope_entry = 'main.papers'"
        ).fetchall()
    assert dict(options) == PARQUET_OPTIONS["papers"]
    assert old.scan("papers").collect().height == 1 + MERGE_AFTER_FILES


def test_a_views_build_that_fails_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk failed the build of a reader's views: its temporary database stayed."""
    from paperlake.views import build

    store = Warehouse(tmp_path / "wh")
    commit(store, {"papers": papers(PAPER)}, "run1")

    def full(*_: object, **__: object) -> None:
        raise duckdb.IOException("Could not write file: No space left on device")

    monkeypatch.setattr(build, "create_sql_views", full)
    with store.session(), pytest.raises(duckdb.IOException, match="No space left"):
        build_database(store, store.current())
    assert not list(store.root.glob(".paperlake.duckdb.tmp-*"))


def test_views_are_rebuilt_when_stale_or_moved(tmp_path: Path) -> None:
    store = Warehouse(tmp_path / "a")
    commit(store, {"papers": papers(PAPER)}, "run1")
    with store.session():
        assert ensure_database(store) is True
        assert ensure_database(store) is False
    commit(store, {"papers": papers(OTHER)}, "run2")
    with store.session():
        assert ensure_database(store) is True
    (tmp_path / "a").rename(tmp_path / "b")
    moved = Warehouse(tmp_path / "b")
    with moved.session():
        assert ensure_database(moved) is True  # absolute paths pointed at the old place
    with duckdb.connect(str(moved.db_path), read_only=True) as con:
        assert count(con, "internal.stg_papers") == 2


def test_schema_evolution_adds_a_new_column_to_an_old_table(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    with store.session() as con:  # a table and a file from before the column existed
        con.execute("ALTER TABLE lk.papers DROP COLUMN taxonomy_version")
        run = store.begin("old")
        run.append({"papers": papers(PAPER).drop("taxonomy_version")})
        run.commit()
    with store.session():  # the next run adds it; old rows read it as null
        assert store.scan("papers").collect()["taxonomy_version"].to_list() == [None]
        build_database(store, store.current())
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        assert con.execute("select taxonomy_version from internal.stg_papers").fetchall() == [
            (None,)
        ]


def test_reader_keeps_its_snapshot_while_a_run_publishes(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    commit(store, {"papers": papers(PAPER)}, "run1")
    with store.session():
        build_database(store, store.current())
    reader = duckdb.connect(str(store.db_path), read_only=True)
    try:
        commit(store, {"papers": papers(OTHER)}, "run2")  # merges run1's file away
        with store.session():
            build_database(store, store.current())  # must not be blocked by the open reader
        assert count(reader, "internal.stg_papers") == 1  # its files are kept until the next run
    finally:
        reader.close()
    with duckdb.connect(str(store.db_path), read_only=True) as fresh:
        assert count(fresh, "internal.stg_papers") == 2


def test_a_missing_or_damaged_catalog_is_a_clear_error_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    store = Warehouse(tmp_path)
    commit(store, {"papers": papers(PAPER)}, "run1")
    store.archive(b"a dump", SAMPLE_CAPTURE)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file() and "catalog" not in p.name)
    catalog = store.catalog_path.read_bytes()

    store.catalog_path.unlink()
    with pytest.raises(CatalogError, match=r"catalog .*catalog.ducklake is missing.*rebuild"):
        store.session().__enter__()
    assert not store.catalog_path.exists()  # no empty catalog created over the data

    store.catalog_path.write_bytes(catalog[:5000] + b"\0" * 5000 + catalog[10000:])
    with pytest.raises(CatalogError, match=r"catalog .*catalog.ducklake cannot be read"):
        store.session().__enter__()
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file() and "catalog" not in p.name) == (
        files
    )


def test_a_new_warehouse_without_data_is_not_mistaken_for_a_lost_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no warehouse at"):
        Warehouse(tmp_path).history()
    assert not (tmp_path / "lake").exists()


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
    dump_id, rel = store.archive(b"hello", SAMPLE_CAPTURE)
    assert rel == f"raw/{dump_id[:2]}/{dump_id}.txt"
    assert store.archive(b"hello", SAMPLE_CAPTURE) == (dump_id, rel)
    assert (tmp_path / rel).read_bytes() == b"hello"


def test_archiving_a_batch_puts_files_in_place_only_when_it_ends(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    with store.archiving():
        _, rel = store.archive(b"one", SAMPLE_CAPTURE)
        assert store.archive(b"one", SAMPLE_CAPTURE)[1] == rel  # the same bytes twice: one file
        assert not (tmp_path / rel).exists()  # not durable yet, so not in place
    assert (tmp_path / rel).read_bytes() == b"one"
    assert not list((tmp_path / "raw").rglob(".*"))  # no temp file left

    with pytest.raises(RuntimeError), store.archiving():
        _, failed = store.archive(b"two", SAMPLE_CAPTURE)
        raise RuntimeError("the batch failed")
    assert not (tmp_path / failed).exists()
    assert not list((tmp_path / "raw").rglob(".*"))


def test_an_old_manifest_warehouse_migrates_in_one_command(tmp_path: Path) -> None:
    """The old layout: Parquet parts under lake/<table>/, _manifests/CURRENT naming them."""
    import json

    from paperlake.cli import main

    parts = {"papers": ["lake/papers/run1-a.parquet", "lake/papers/run2-b.parquet"]}
    for rel, row in zip(parts["papers"], (PAPER, OTHER), strict=True):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        papers(row).write_parquet(tmp_path / rel)
    manifests = tmp_path / "_manifests"
    manifests.mkdir()
    (manifests / "00000001.json").write_text(json.dumps({"version": 1, "tables": parts}))
    (manifests / "CURRENT").write_text("00000001.json")
    raw = Warehouse(tmp_path).archive(b"a dump", SAMPLE_CAPTURE)[1]

    with pytest.raises(CatalogError, match=r"old manifest layout.*paperlake migrate"):
        Warehouse(tmp_path).session().__enter__()
    assert main(["--warehouse", str(tmp_path), "migrate"]) == 0
    store = Warehouse(tmp_path)
    assert sorted(store.scan("papers").collect()["paper_id"]) == [
        PAPER["paper_id"],
        OTHER["paper_id"],
    ]
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        assert count(con, "internal.stg_papers") == 2
    old = tmp_path / "pre-ducklake"  # moved, not deleted
    assert (old / "_manifests" / "CURRENT").exists() and len(list(old.rglob("*.parquet"))) == 2
    assert (tmp_path / raw).exists()


def test_a_stopped_migration_is_resumed_from_the_files_it_moved_aside(tmp_path: Path) -> None:
    """Killed after moving the old files to pre-ducklake/ and before its commit: the next
    ``migrate`` reads them from there (it had said there was nothing to migrate, and every
    view read empty)."""
    import json

    from paperlake import migrate as migration
    from paperlake.cli import main

    rel = "lake/papers/run1-a.parquet"
    (tmp_path / rel).parent.mkdir(parents=True)
    papers(PAPER).write_parquet(tmp_path / rel)
    manifests = tmp_path / "_manifests"
    manifests.mkdir()
    (manifests / "00000001.json").write_text(json.dumps({"tables": {"papers": [rel]}}))
    (manifests / "CURRENT").write_text("00000001.json")

    stopped = pytest.MonkeyPatch()
    stopped.setattr(Transaction, "commit", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
    with stopped.context(), pytest.raises(KeyboardInterrupt):
        migration.migrate(Warehouse(tmp_path))
    stopped.undo()
    assert not manifests.exists() and (tmp_path / "pre-ducklake" / "papers").is_dir()

    assert main(["--warehouse", str(tmp_path), "migrate"]) == 0
    assert Warehouse(tmp_path).scan("papers").collect()["paper_id"].to_list() == [PAPER["paper_id"]]
    with pytest.raises(SystemExit, match="migrated already"):
        migration.migrate(Warehouse(tmp_path))


def test_a_migration_stopped_while_moving_folders_is_resumed(tmp_path: Path) -> None:
    """Killed between two folder moves: the next ``migrate`` read the moved table's files
    where they had been, and failed on the ``pre-ducklake/`` it had made."""
    import json

    from paperlake.cli import main

    parts = {"papers": ["lake/papers/run1-a.parquet"], "listings": ["lake/listings/run1-a.parquet"]}
    (tmp_path / "lake" / "papers").mkdir(parents=True)
    papers(PAPER).write_parquet(tmp_path / parts["papers"][0])
    (tmp_path / "lake" / "listings").mkdir()
    listing = {"dump_id": "a" * 64, "listed_on": date(2025, 3, 14), "position": 1}
    listed = pl.DataFrame([listing | {"paper_id": PAPER["paper_id"]}])
    listed.cast(polars_schema(PUBLISHED["listings"])).write_parquet(tmp_path / parts["listings"][0])
    (tmp_path / "_manifests").mkdir()
    (tmp_path / "_manifests" / "00000001.json").write_text(json.dumps({"tables": parts}))
    (tmp_path / "_manifests" / "CURRENT").write_text("00000001.json")
    (tmp_path / "pre-ducklake").mkdir()  # the first folder moved, then the run was killed
    (tmp_path / "lake" / "papers").rename(tmp_path / "pre-ducklake" / "papers")

    assert main(["--warehouse", str(tmp_path), "migrate"]) == 0
    store = Warehouse(tmp_path)
    assert store.scan("papers").collect().height == 1
    assert store.scan("listings").collect().height == 1
    assert sorted(p.name for p in (tmp_path / "pre-ducklake").iterdir()) == [
        "_manifests",
        "listings",
        "papers",
    ]


def test_a_rebuild_run_again_keeps_the_capture_dates_the_first_moved_aside(
    tmp_path: Path, sample_warehouse: Path
) -> None:
    """A rebuild stopped after moving the lake aside, then run again: the dates are read from
    every ``before-rebuild-*`` folder (only the newest, empty, was read: every page date of
    an undated name moved to the archive file's year)."""
    import shutil

    from paperlake.migrate import prepare_rebuild

    root = tmp_path / "wh"
    shutil.copytree(sample_warehouse, root)
    store = Warehouse(root)
    prepare_rebuild(store, tmp_path / "first")  # then stopped
    time.sleep(1)  # the asides are named to the second
    prepare_rebuild(store, tmp_path / "second")
    names = sorted(p.name for p in (tmp_path / "second").iterdir())
    assert names and all(name.startswith(f"{SAMPLE_CAPTURE.isoformat()}_") for name in names)


def test_a_connection_loads_the_lake_with_no_unsigned_extension_allowed(tmp_path: Path) -> None:
    store = Warehouse(tmp_path)
    with store.session() as con:
        settings = "SELECT current_setting('allow_unsigned_extensions')"
        assert con.execute(settings).fetchone() == (False,)
        loaded = "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'ducklake'"
        assert con.execute(loaded).fetchone() == (True,)


def test_a_lost_commit_is_a_conflict_and_gives_the_connection_its_threads_back(
    tmp_path: Path,
) -> None:
    """A commit runs on one DuckDB thread; one that loses to another writer's raises
    CommitConflict, and the connection has its own thread count again for the next try."""
    store = Warehouse(tmp_path / "wh")
    commit(store, {"papers": papers(PAPER)}, "run1")
    with store.session() as con:
        con.execute("SET threads = 4")
        winner = Transaction(con.cursor(), "winner", store.root)
        loser = Transaction(con.cursor(), "loser", store.root)
        for run in (winner, loser):
            run.con.execute(f"DELETE FROM {LAKE}.papers")
        winner.commit()
        with pytest.raises(CommitConflict, match="run loser lost the commit"):
            loser.commit()
        assert loser.con.execute("SELECT current_setting('threads')").fetchone() == (4,)


@pytest.mark.parametrize(
    ("message", "kind", "said"),
    [
        ("Transaction conflict - attempting to insert into table", CommitConflict, "another"),
        (
            "Failed to commit DuckLake transaction. Exceeded the maximum retry count of 10",
            CommitConflict,
            "another",
        ),
        ('Failed to commit: Failed to execute query "ROLLBACK": ', CommitConflict, "connection"),
        (
            'Failed: "INSERT ...": ERROR:  permission denied for table ducklake_snapshot',
            StorageUnavailable,
            "refused it (permission denied for table ducklake_snapshot)",
        ),
        (
            "Failed to commit: cannot execute INSERT in a read-only transaction",
            CommitFailed,
            "could not commit (Failed",
        ),
    ],
)
def test_a_failed_commit_is_classified_by_what_failed(
    message: str, kind: type[Exception], said: str
) -> None:
    """Only a conflict or a dropped connection runs again; a read-only catalog server ran the
    whole ingest 5 times and read as "lost the commit to another writer"."""
    from paperlake.lake.transaction import commit_failed

    failed = commit_failed("run1", duckdb.TransactionException(message))
    assert type(failed) is kind and said in str(failed)
    assert "INSERT ..." not in str(failed)
