"""How ``title_words`` is stored: a daily run reads it whole twice (paperlake.summaries)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from paperlake.lake import Warehouse
from paperlake.publish import write_summaries
from tests.test_summaries import _papers, _titles


def test_title_words_are_written_in_parquet_format_2(tmp_path: Path) -> None:
    """Its strings are delta-length encoded (format 2), cheaper to scan than format 1's plain
    ones, in every file a run writes; the other tables keep format 1."""
    store = Warehouse(tmp_path / "wh")
    papers = _papers(_titles(300, seed=37))
    with store.session():
        run = store.begin("run")
        run.append({"papers": papers})
        write_summaries(run, {"papers": [papers.drop("title")]})
        run.commit()
        files = store.current().tables
    sql = "SELECT DISTINCT encodings FROM parquet_metadata(?) WHERE path_in_schema = ?"
    with duckdb.connect() as con:
        words = {e for (e,) in con.execute(sql, [files["title_words"], "word"]).fetchall()}
        titles = {e for (e,) in con.execute(sql, [files["papers"], "title"]).fetchall()}
    assert "DELTA_LENGTH_BYTE_ARRAY" in words
    assert not any("DELTA" in encodings for encodings in titles)
