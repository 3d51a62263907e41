"""``sql/README.md`` is generated from the SQL headers and cannot go stale."""

from __future__ import annotations

from paperlake.catalogue import header, render
from paperlake.views import SQL_DIR, public_views


def test_catalogue_is_current_and_complete() -> None:
    catalogue = (SQL_DIR / "README.md").read_text()
    assert catalogue == render(), "run `python -m paperlake.catalogue`"
    headings = {line[4:-1] for line in catalogue.splitlines() if line.startswith("## `")}
    assert set(public_views()) - {"trending_topics"} <= headings
    assert {"search_papers(terms, k)", "trending_topics"} <= headings
    assert not {heading for heading in headings if heading.startswith("stg_")}
    assert "no particular order" in catalogue


def test_header_is_the_leading_comment_block() -> None:
    sql = "-- v: what it is.\n--   col   meaning\n--\ncreate view v as select 1 -- not this\n"
    assert header(sql) == ["v: what it is.", "  col   meaning", ""]
