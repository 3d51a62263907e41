"""``paperlake.views``: staging generated from the Pandera models, the build order derived
from the SQL, views that leave ordering to their callers.  Pure: an in-memory database over
empty lake tables, no Prefect."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from paperlake.schemas.tables import PUBLISHED, polars_schema
from paperlake.views import (
    INTERNAL,
    SQL_DIR,
    ViewError,
    build_order,
    create_sql_views,
    create_staging_views,
    files_source,
    relations,
    sql_files,
    staging_name,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """Every view of ``sql/`` over empty lake tables."""
    con = duckdb.connect()
    create_staging_views(con, {table: files_source(table, []) for table in PUBLISHED})
    create_sql_views(con)
    return con


def test_generated_staging_has_each_models_columns_and_types(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    for table, model in PUBLISHED.items():
        # How DuckDB reads a Parquet file polars writes from the model's schema (as the lake
        # holds them), independent of the type mapping the generator uses.
        written = tmp_path / f"{table}.parquet"
        pl.DataFrame(schema=polars_schema(model)).write_parquet(written)
        expected = con.read_parquet(str(written))
        staged = con.sql(f"from {INTERNAL}.{staging_name(table)}")
        assert staged.columns == expected.columns, table
        assert staged.types == expected.types, table


def test_no_hand_written_staging_view_only_reselects_a_table() -> None:
    staging = [path for path in sql_files() if path.parent.name == "staging"]
    assert staging
    for path in staging:
        [defined], _ = relations(path.read_text())
        assert defined not in {staging_name(table) for table in PUBLISHED}, path
        assert "Hand-written because" in path.read_text(), f"{path}: say why at its top"


def test_relations_skip_comments_strings_and_ctes() -> None:
    sql = """-- Example: select * from papers
    create or replace view internal.stg_x as
    with papers as (select paper_id from internal.stg_papers),
    counted as (select 'from quarantine' as s, paper_id from papers)
    select * from counted inner join repos using (paper_id)
    left join trending_topics_over(7) as t on true
    """
    assert relations(sql) == ({"stg_x"}, {"stg_papers", "repos", "trending_topics_over"})


def write(folder: Path, name: str, sql: str) -> Path:
    path = folder / name
    path.write_text(sql)
    return path


def test_build_order_follows_references_not_names(tmp_path: Path) -> None:
    a = write(tmp_path, "a.sql", "create or replace view a as select * from b join c using (x)")
    b = write(tmp_path, "b.sql", "create or replace view b as select x from c")
    c = write(tmp_path, "c.sql", "create or replace view c as select x from internal.stg_t")
    assert build_order([a, b, c], {"stg_t"}) == [c, b, a]


def test_every_sql_file_comes_after_what_it_reads() -> None:
    order = build_order(sql_files(), {staging_name(table) for table in PUBLISHED})
    assert sorted(order) == sorted(sql_files())
    defined_at = {
        name: i for i, path in enumerate(order) for name in relations(path.read_text())[0]
    }
    for i, path in enumerate(order):
        _, reads = relations(path.read_text())
        assert all(defined_at[name] < i for name in reads if name in defined_at), path
    assert order.index(SQL_DIR / "repeated_listings.sql") > order.index(SQL_DIR / "papers.sql")


def test_a_cycle_is_named(tmp_path: Path) -> None:
    a = write(tmp_path, "a.sql", "create or replace view a as select * from b")
    b = write(tmp_path, "b.sql", "create or replace view b as select * from a")
    with pytest.raises(ViewError, match=r"cycle: .*[ab]\.sql -> .*[ab]\.sql -> .*[ab]\.sql"):
        build_order([a, b], set())


def test_a_name_defined_twice_is_refused(tmp_path: Path) -> None:
    a = write(tmp_path, "a.sql", "create or replace view internal.stg_papers as select 1 as x")
    with pytest.raises(ViewError, match=r"a\.sql: defines stg_papers, already defined by a gen"):
        build_order([a], {"stg_papers"})


def test_a_missing_relation_names_the_file_and_the_relation(tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()
    write(tmp_path, "a.sql", "create or replace view a as select * from internal.stg_nowhere")
    con = duckdb.connect()
    create_staging_views(con, {"papers": files_source("papers", [])})
    with pytest.raises(ViewError, match=r"a\.sql: Catalog Error: .*stg_nowhere does not exist"):
        create_sql_views(con, tmp_path)


def test_views_and_macros_leave_the_order_to_the_caller(con: duckdb.DuckDBPyConnection) -> None:
    ends_ordered = re.compile(r"\border\s+by\b[^()]*;?\s*$", re.IGNORECASE)
    definitions = con.execute(
        "select view_name, sql from duckdb_views() where not internal "
        "union all select function_name, macro_definition from duckdb_functions() "
        "where function_type = 'table_macro' and not internal"
    ).fetchall()
    assert len(definitions) >= 16
    for name, sql in definitions:
        assert not ends_ordered.search(sql), name
    assert ends_ordered.search("select * from t order by a desc, b;")  # the check can fail


def test_a_new_snapshot_of_the_same_layout_replaces_only_the_staging_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second build copies the first and points its staging views at the new files;
    every public view then answers as a database built whole for that snapshot."""
    from paperlake.lake import Warehouse
    from paperlake.views import build, build_database, public_views
    from tests.test_lake import OTHER, PAPER, papers

    store = Warehouse(tmp_path / "wh")
    with store.session():
        for run_id, paper in (("r1", PAPER), ("r2", OTHER)):
            run = store.begin(run_id)
            run.append({"papers": papers(paper)})
            run.commit()
            if run_id == "r1":
                build_database(store, store.current())
        second = store.current()

    def answers() -> dict[str, list[tuple]]:
        with duckdb.connect(str(store.db_path), read_only=True) as db:
            return {v: db.execute(f"from {v} order by all").fetchall() for v in public_views()}

    def refuse(*args: object) -> None:
        raise AssertionError("the public views were created again")

    with monkeypatch.context() as patched:
        patched.setattr(build, "create_sql_views", refuse)
        build_database(store, second)
    copied = answers()
    with duckdb.connect(str(store.db_path), read_only=True) as db:
        assert db.execute("select count(*) from internal.stg_papers").fetchall() == [(2,)]
    store.db_path.unlink()
    build_database(store, second)  # whole
    assert answers() == copied
