"""``paperlake sql`` and every user path: read-only as DuckDB enforces it, time-limited,
streamed output in table, csv, json and parquet.  No Prefect: the warehouse is committed
through the lake API directly."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path

import duckdb
import polars as pl
import pytest

from paperlake import cli
from paperlake.cli import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, connect, main
from paperlake.dashboard.page import READ_SETTINGS, open_views
from paperlake.lake import Warehouse
from paperlake.schemas.tables import PUBLISHED, polars_schema
from paperlake.views import INTERNAL, build_database, open_read_only, public_views
from paperlake.views.build import sql_fingerprint
from tests.test_cli import paperlake

TITLES = ["Attention is all you need", "Order matters", "Mixture of experts"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    store = Warehouse(tmp_path / "wh")
    papers = pl.DataFrame(
        [
            {
                "paper_id": f"{i:016x}",
                "title_key": title.lower().replace(" ", ""),
                "title": title,
                "abstract": "An abstract.",
                "first_dump_id": "a" * 64,
                "taxonomy_version": "t1",
            }
            for i, title in enumerate(TITLES)
        ],
        schema=polars_schema(PUBLISHED["papers"]),
    )
    with store.session():
        run = store.begin("run1")
        run.append({"papers": papers})
        run.commit()
        build_database(store, store.current())
    return store.root


def tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with its sha256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def sql(root: Path, *argv: str) -> int:
    return main(["--warehouse", str(root), "sql", *argv])


# (statement, exit code, error text).  {lake} is the lake's data folder (readable, so DuckDB's
# allow-list alone would let a COPY write there), {out} a folder outside the warehouse,
# {catalog} the lake's catalog file.
ESCAPES = [
    ("copy (select 1) to '{out}/x.csv'", EXIT_USAGE, "COPY statements are refused"),
    ("copy (select 1) to '{lake}/x.csv'", EXIT_USAGE, "COPY statements are refused"),
    ("copy (select 1) to '{lake}/papers/x.parquet'", EXIT_USAGE, "COPY statements are refused"),
    (
        "explain analyze copy (select 1) to '{lake}/x.csv'",
        EXIT_USAGE,
        "EXPLAIN only of a SELECT statement",
    ),
    (
        "explain analyze copy (select 1) to '{out}/x.csv'",
        EXIT_USAGE,
        "EXPLAIN only of a SELECT statement",
    ),
    ("export database '{lake}/exported'", EXIT_USAGE, "EXPORT statements are refused"),
    ("from query('copy (select 1) to ''{lake}/x.csv''')", EXIT_USAGE, "query() is refused"),
    ("from query('select 1')", EXIT_USAGE, "query() is refused"),
    # Functions a SELECT may call that write, delete, change settings or lock the catalog:
    (
        "from ducklake_rewrite_data_files('lk', delete_threshold => 0)",
        EXIT_USAGE,
        "ducklake_rewrite_data_files() is refused",
    ),
    (
        "select * from ducklake_cleanup_old_files('lk', cleanup_all => true)",
        EXIT_USAGE,
        "ducklake_cleanup_old_files() is refused",
    ),
    ("from lk.snapshots()", EXIT_USAGE, "lk.snapshots() is refused"),
    ("from LK.snapshots()", EXIT_USAGE, "LK.snapshots() is refused"),  # names match any case
    ('select * from "Lk".merge_adjacent_files()', EXIT_USAGE, "Lk.merge_adjacent_files() is"),
    ("select checkpoint()", EXIT_USAGE, "checkpoint() is refused"),
    # the PostgreSQL extension a shared lake's catalog loads: SQL on the catalog's server
    (
        "select * from postgres_execute('__ducklake_metadata_lk', 'COMMIT; DELETE FROM t')",
        EXIT_USAGE,
        "postgres_execute() is refused",
    ),
    ("from Postgres_Query('x', 'select 1')", EXIT_USAGE, "postgres_query() is refused"),
    ("from postgres_scan('host=h', 'public', 't')", EXIT_USAGE, "postgres_scan() is refused"),
    ("explain select * from enable_logging()", EXIT_USAGE, "enable_logging() is refused"),
    ("select * from enable_profiling()", EXIT_USAGE, "enable_profiling() is refused"),
    (
        "select * from READ_DUCKDB('{catalog}', table_name => 'ducklake_snapshot')",
        EXIT_USAGE,
        "read_duckdb() is refused",
    ),
    ("select * from read_blob('{catalog}')", EXIT_FAILED, "Cannot access file"),
    (
        "explain (format json) copy (select 1) to '{lake}/x.csv'",
        EXIT_USAGE,
        "EXPLAIN only of a SELECT statement",
    ),
    ("attach '{out}/other.duckdb' as other", EXIT_USAGE, "ATTACH statements are refused"),
    ("attach ':memory:' as scratch", EXIT_USAGE, "ATTACH statements are refused"),
    ("install fts", EXIT_USAGE, "LOAD statements are refused"),
    ("load parquet", EXIT_USAGE, "LOAD statements are refused"),
    ("select * from read_csv('/etc/passwd')", EXIT_FAILED, 'Cannot access file "/etc/passwd"'),
    ("select * from read_text('/etc/hostname')", EXIT_FAILED, "Cannot access file"),
    ("select * from read_blob('/etc/passwd')", EXIT_FAILED, "Cannot access file"),
    ("select * from glob('/etc/*')", EXIT_FAILED, "Cannot access file"),
    ("select * from read_text('{raw}')", EXIT_FAILED, "Cannot access file"),
    ("pragma import_database('{out}')", EXIT_FAILED, "Cannot access file"),
    ("pragma enable_profiling", EXIT_USAGE, "PRAGMA statements are refused"),
    ("set threads = 1", EXIT_USAGE, "SET statements are refused"),
    ("set enable_external_access = true", EXIT_USAGE, "SET statements are refused"),
    ("reset allowed_directories", EXIT_USAGE, "SET statements are refused"),
    ("create table t as select 1", EXIT_USAGE, "CREATE statements are refused"),
    ("create temp table t as select 1", EXIT_USAGE, "CREATE statements are refused"),
    ("create or replace view papers as select 1", EXIT_USAGE, "CREATE statements are refused"),
    ("drop view papers", EXIT_USAGE, "DROP statements are refused"),
    ("checkpoint", EXIT_USAGE, "CALL statements are refused"),
    ("select 1; copy (select 1) to '{lake}/x.csv'", EXIT_USAGE, "exactly one statement; got 2"),
    ("select 1; select 2", EXIT_USAGE, "exactly one statement; got 2"),
    ("  -- a comment only", EXIT_USAGE, "the query is empty (nothing but spaces or comments)"),
]


@pytest.mark.parametrize("as_of", [False, True], ids=["current", "as-of"])
@pytest.mark.parametrize(("statement", "code", "error"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_escape_is_refused_and_nothing_is_written(
    root: Path,
    tmp_path: Path,
    as_of: bool,
    statement: str,
    code: int,
    error: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)  # a relative path would land here
    raw = root / "raw" / "secret.txt"
    raw.parent.mkdir()
    raw.write_text("an archived dump: not the lake's data folder")
    before = tree(root)
    catalog = Warehouse(root).catalog_path
    query = statement.format(lake=Warehouse(root).data_path, out=out, raw=raw, catalog=catalog)
    # --as-of opens the catalog with DuckLake loaded: the same door must hold there.
    snapshot = ["--as-of", str(Warehouse(root).current_version())] if as_of else []
    assert sql(root, *snapshot, query) == code
    err = capsys.readouterr().err
    assert error in err, err
    assert tree(root) == before
    assert list(out.iterdir()) == []


def test_duckdb_allow_list_does_not_tell_reads_from_writes(root: Path, tmp_path: Path) -> None:
    """The DuckDB gap that makes :func:`read_statement` necessary: inside the allowed lake
    folder, a locked connection still writes.  If this starts failing, DuckDB has closed the
    gap and the statement check could be relaxed."""
    target = Warehouse(root).data_path / "written-by-copy.csv"
    with open_read_only(root) as con:
        con.execute(f"copy (select 1 as x) to '{target}'")
    assert target.read_text() == "x\n1\n"


def test_every_user_path_opens_the_locked_connection(root: Path) -> None:
    with connect(str(root)) as con:
        settings = dict(
            con.execute(
                "select name, value from duckdb_settings() where name in "
                "('enable_external_access', 'lock_configuration', 'access_mode', "
                "'autoinstall_known_extensions', 'autoload_known_extensions')"
            ).fetchall()
        )
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "access_mode": "read_only",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    }


def test_the_dashboard_connection_has_its_settings_and_is_locked(root: Path) -> None:
    """Its cursors too: the page's sections query through one cursor per thread."""
    with open_views(Warehouse(root).db_path) as con:
        names = ", ".join(f"'{name}'" for name in READ_SETTINGS)
        for reader in (con, con.cursor()):
            found = dict(
                reader.execute(
                    f"select name, value from duckdb_settings() where name in ({names})"
                ).fetchall()
            )
            assert found == {name: str(value).lower() for name, value in READ_SETTINGS.items()}
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                reader.execute("SET threads = 2")
            with pytest.raises(duckdb.PermissionException):
                reader.execute("select * from read_csv('/etc/hostname')")


def test_main_schema_holds_only_the_public_interface(root: Path) -> None:
    with open_read_only(root) as con:
        main_views = con.execute(
            "select view_name from duckdb_views() where schema_name = 'main' and not internal"
        ).fetchall()
        main_tables = con.execute("select * from duckdb_tables() where schema_name = 'main'")
        internal = con.execute(
            "select view_name from duckdb_views() where schema_name = ?", [INTERNAL]
        ).fetchall()
        assert main_tables.fetchall() == []
    assert sorted(name for (name,) in main_views) == sorted(public_views())
    assert all(name.startswith("stg_") for (name,) in internal)


def test_read_statements_run(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for query in (
        "from papers",
        "show tables",
        "describe papers",
        "summarize papers",
        "explain select * from papers",
        "explain analyze select count(*) from papers",
        "select * from search_papers(['order'], k := 1)",
        "select title from internal.stg_papers order by title",
    ):
        assert sql(root, query, "--format", "csv") == EXIT_OK, capsys.readouterr().err
        assert capsys.readouterr().out.count("\n") >= 1
    assert sql(root, "select title from internal.stg_papers order by title") == EXIT_OK
    assert "Order matters" in capsys.readouterr().out


def test_timeout_stops_the_query(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = "select count(*) from range(100000000) a, range(100000000) b"
    assert sql(root, slow, "--timeout", "0.5") == EXIT_TIMEOUT
    assert "query stopped after --timeout 0.5 s" in capsys.readouterr().err


def test_a_query_deaf_to_its_interrupt_ends_the_process(root: Path) -> None:
    """One call of a list function never looks for DuckDB's interrupt: the process ends
    :data:`INTERRUPT_GRACE_SECONDS` after it (and its memory is capped meanwhile)."""
    deaf = "select len(list_sort(list_reverse(range(150000000))))"
    started = time.monotonic()
    done = paperlake("--warehouse", str(root), "sql", deaf, "--timeout", "1")
    assert done.returncode == EXIT_TIMEOUT, done.stderr
    assert "query stopped after --timeout 1 s" in done.stderr
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stopped_query_exits_as_stopped_and_leaves_no_partial_output(
    signum: int, root: Path, tmp_path: Path
) -> None:
    """SIGTERM and SIGHUP had left ``-o``'s temporary file behind; SIGINT printed DuckDB's
    'Query interrupted' traceback, exit 1."""
    import subprocess
    import sys

    slow = "select count(*) from range(3000000000) a where hash(a.range) % 7 = 3"
    argv = [sys.executable, "-m", "paperlake.cli", "--warehouse", str(root), "sql", slow]
    out = tmp_path / "result.csv"
    process = subprocess.Popen(
        [*argv, "--timeout", "0", "--format", "csv", "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".result.csv.tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the query is running, its output file open
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert f"{signal.Signals(signum).name}: query stopped" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".result.csv.tmp-*"))


def test_the_watchdog_deletes_the_partial_output_before_it_ends_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os._exit`` runs no ``finally``: the watchdog deletes ``-o``'s temporary file."""
    partial = tmp_path / ".result.csv.tmp-1"
    partial.write_text("half a result")
    ended = threading.Event()
    monkeypatch.setattr(cli, "INTERRUPT_GRACE_SECONDS", 0.1)
    monkeypatch.setattr(os, "_exit", lambda code: ended.set())

    class Deaf:
        def interrupt(self) -> None:
            """A query that never looks for its interrupt."""

    with cli.time_limit(Deaf(), 0.05, partial):  # type: ignore[arg-type]
        assert ended.wait(10)
    assert not partial.exists()


def test_a_time_travel_query_spills_to_a_folder_of_its_own(root: Path) -> None:
    """Not DuckDB's default for an in-memory database, ``.tmp`` in the working directory."""
    with connect(str(root), as_of=str(Warehouse(root).current_version())) as con:
        [(folder,)] = con.execute("select current_setting('temp_directory')").fetchall()
    assert Path(folder).parent == Path(tempfile.gettempdir()), folder


def test_a_time_from_history_queries_that_snapshot_and_an_unknown_one_exits_2(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A time as `history` prints it (UTC, to the second) names the snapshot committed in
    that second; one the lake does not keep is a bad argument, said in one line."""
    [*_, last] = Warehouse(root).history()
    printed = f"{last.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
    assert sql(root, "--as-of", printed, "--format", "csv", COUNT_PAPERS) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [str(len(TITLES))]
    with pytest.raises(SystemExit) as exited:
        sql(root, "--as-of", "9999", "select 1")
    assert exited.value.code == EXIT_USAGE
    said = "--as-of 9999: no snapshot 9999 (the lake keeps snapshots 0 to"
    assert said in capsys.readouterr().err


def test_output_into_a_folder_that_does_not_exist_is_refused(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It failed as a query ("query failed", naming the temporary file); the dashboard
    created the folders."""
    target = tmp_path / "nodir" / "x.csv"
    assert sql(root, "select 1", "--format", "csv", "-o", str(target)) == EXIT_USAGE
    assert f"-o {target}: no such folder {target.parent}" in capsys.readouterr().err
    page = tmp_path / "nodir" / "d.html"
    assert main(["--warehouse", str(root), "dashboard", "-o", str(page)]) == EXIT_USAGE
    assert not target.parent.exists()


def test_output_inside_the_warehouse_is_refused(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``dashboard -o`` replaced the lake's catalog (every command failed after) and wrote
    through a link into the warehouse; only its own page may be written there."""
    before = tree(root)
    catalog = Warehouse(root).catalog_path
    link = tmp_path / "innocent.html"
    link.symlink_to(catalog)
    for target in (catalog, root / "paperlake.duckdb", root / "lake" / "data" / "x.csv", link):
        assert sql(root, "select 'x' as x", "--format", "csv", "-o", str(target)) == EXIT_USAGE
        assert "inside the warehouse" in capsys.readouterr().err
        assert main(["--warehouse", str(root), "dashboard", "-o", str(target)]) == EXIT_USAGE
        assert "inside the warehouse" in capsys.readouterr().err
    assert tree(root) == before
    own = root / "dashboard.html"
    assert main(["--warehouse", str(root), "dashboard", "-o", str(own)]) == EXIT_OK
    assert capsys.readouterr().out.strip() == str(own)


def test_output_onto_a_folder_or_a_device_is_refused(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rename replaced them (as root, ``-o /dev/null`` left a regular file there)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (tmp_path, fifo):
        assert sql(root, "select 1", "--format", "csv", "-o", str(target)) == EXIT_USAGE
        assert "not a regular file" in capsys.readouterr().err
        assert main(["--warehouse", str(root), "dashboard", "-o", str(target)]) == EXIT_USAGE
        assert "not a regular file" in capsys.readouterr().err
    assert fifo.is_fifo()


COUNT_PAPERS = f"select count(*) from {INTERNAL}.stg_papers"


def test_a_long_time_travel_query_leaves_the_catalog_to_runs(root: Path) -> None:
    """``--as-of`` reads a private copy of the catalog: while its query runs, a run still
    attaches the catalog at once (it used to wait 10 s, then fail as busy)."""
    store = Warehouse(root)
    with connect(str(root), as_of=str(store.current_version())) as reader:
        assert reader.execute(COUNT_PAPERS).fetchone() == (len(TITLES),)
        started = time.monotonic()
        with store.session():
            run = store.begin("run2")
            run.commit()
        assert time.monotonic() - started < 5
        assert reader.execute(COUNT_PAPERS).fetchone() == (len(TITLES),)
    assert not list(Path(tempfile.gettempdir()).glob("paperlake-catalog-*"))


HOLD_THE_CATALOG = """
import sys, time
from pathlib import Path
from paperlake.lake import Warehouse
with Warehouse(Path(sys.argv[1])).session():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_the_catalog(root: Path, seconds: float) -> subprocess.Popen[bytes]:
    """Another process holding the lake's catalog for ``seconds``, as a run does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_CATALOG, str(root), str(seconds)],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    return holder


@pytest.mark.parametrize(
    ("command", "answer"),
    [(["sql", COUNT_PAPERS], f"{len(TITLES)}"), (["report"], "== Dumps")],
    ids=["sql", "report"],
)
def test_a_reader_answers_at_once_while_a_run_holds_the_catalog(
    root: Path, command: list[str], answer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run holds the catalog for all its length; readers waited 10 s for it, then failed
    as busy (exit 75).  They answer from the views, the last snapshot published."""
    holder = hold_the_catalog(root, 120)
    try:
        started = time.monotonic()
        assert main(["--warehouse", str(root), *command]) == EXIT_OK
        assert time.monotonic() - started < 3
    finally:
        holder.kill()
        holder.wait()
    assert answer in capsys.readouterr().out


def test_views_older_than_the_lake_are_not_answered_from_while_a_run_holds_it(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run stopped after its commit left the views a snapshot behind: a reader waits for
    the catalog (here released after 2 s), brings them up to date, and answers the lake's
    rows, not the old views' ones."""
    store = Warehouse(root)
    with store.session():  # committed, the views not rebuilt
        run = store.begin("run2")
        more = (
            store.scan("papers").collect().head(1).with_columns(pl.lit("f" * 16).alias("paper_id"))
        )
        run.append({"papers": more})
        run.commit()
    holder = hold_the_catalog(root, 2)
    try:
        started = time.monotonic()
        assert sql(root, COUNT_PAPERS, "--format", "csv") == EXIT_OK
        assert time.monotonic() - started > 1
    finally:
        holder.kill()
        holder.wait()
    assert capsys.readouterr().out.splitlines()[-1] == str(len(TITLES) + 1)


def test_views_built_from_other_sql_files_are_rebuilt(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After an upgrade that changed a view (``trending_topics.growth``'s meaning), readers
    got the old definitions until a run committed: the views record their SQL files'
    fingerprint, and a different one is rebuilt as an older snapshot is."""
    with duckdb.connect(str(root / "paperlake.duckdb")) as con:
        con.execute(f"UPDATE {INTERNAL}.paperlake_meta SET sql = 'an older paperlake'")
    assert sql(root, f"select sql from {INTERNAL}.paperlake_meta", "--format", "csv") == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == sql_fingerprint()


def test_json_parses_back(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = (
        "select title, date '2025-03-14' as listed_on, 0.5::decimal(3,2) as d, ['a'] as l, "
        "'nan'::double as nan, [1.5, 'inf'::double] as xs, interval 90 minutes as span, "
        "'\\xAB'::blob as b from internal.stg_papers order by title"
    )
    assert sql(root, query, "--format", "json") == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert [row["title"] for row in rows] == sorted(TITLES)
    assert rows[0] | {"title": ""} == {
        "title": "",
        "listed_on": "2025-03-14",
        "d": 0.5,
        "l": ["a"],
        "nan": None,
        "xs": [1.5, None],
        "span": 5400.0,
        "b": "ab",
    }
    assert sql(root, "select 1 as x where false", "--format", "json") == EXIT_OK
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_output_file(root: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"result.{fmt}"
    query = "select title from internal.stg_papers"
    assert sql(root, query, "--format", fmt, "-o", str(target)) == EXIT_OK
    reader = {"csv": "read_csv", "json": "read_json", "parquet": "read_parquet"}[fmt]
    with duckdb.connect() as con:
        rows = con.execute(f"select title from {reader}(?) order by 1", [str(target)]).fetchall()
    assert rows == [(t,) for t in sorted(TITLES)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_output_file_is_all_or_nothing(
    root: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A query failing after rows were written leaves the old file as it was, no temp file."""
    target = tmp_path / "result"
    target.write_text("previous result\n")
    failing = (
        "select case when i < 50000 then i else error('boom at ' || i) end as i "
        "from range(100000) t(i)"
    )
    assert sql(root, failing, "--format", fmt, "-o", str(target)) == EXIT_FAILED
    assert "boom at" in capsys.readouterr().err
    assert target.read_text() == "previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result", "wh"]


def test_format_and_output_misuse(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sql(root, "select 1", "--format", "parquet") == EXIT_USAGE
    assert "give -o FILE" in capsys.readouterr().err
    assert sql(root, "select 1", "-o", "x.txt") == EXIT_USAGE
    assert "needs --format csv, json or parquet" in capsys.readouterr().err


def test_a_reader_whose_views_cannot_be_rebuilt_answers_from_the_older_ones(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk: every reader was a traceback from the views' rebuild."""
    from paperlake.lake import Warehouse
    from paperlake.views import build

    store = Warehouse(root)
    with store.session():
        run = store.begin("run2")
        run.append({"papers": pl.DataFrame(schema=polars_schema(PUBLISHED["papers"]))})
        run.con.execute("DELETE FROM lk.papers WHERE title = 'Order matters'")
        run.rows["papers"] = 1
        run.commit()

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        build.shutil, "copyfile", full
    )  # the copy a new snapshot's views start from
    assert sql(root, "--format", "csv", COUNT_PAPERS) == EXIT_OK
    out, err = capsys.readouterr()
    assert out.splitlines()[1:] == [str(len(TITLES))]  # the older views' answer
    assert "could not be brought up to date ([Errno 28] No space left on device)" in err
    # time travel copies the catalog (copyfile still fails): an error, never the current views
    with pytest.raises(SystemExit, match=r"cannot open the views of .* at --as-of 1: .*Errno 28"):
        sql(root, "--as-of", "1", "--format", "csv", COUNT_PAPERS)


def test_an_explain_prints_its_plan_as_drawn(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a table's box the plan was one cut line of escaped newlines."""
    assert sql(root, f"explain {COUNT_PAPERS}") == EXIT_OK
    out = capsys.readouterr().out
    assert "UNGROUPED_AGGREGATE" in out and "\\n" not in out and len(out.splitlines()) > 5
