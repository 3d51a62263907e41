"""``paperlake replay``: quarantined files processed again and cleared when they load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paperlake.flows.ingest import ingest, replay
from tests.conftest import query
from tests.dumps import PAPERS, dump_bytes
from tests.test_summaries import FULL_KEYPHRASE_FREQUENCY

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_corrected_redrop_is_loaded_and_cleared(landing: Path, warehouse: Path) -> None:
    bad = landing / "2025-03-14_daily.txt"
    bad.write_bytes(dump_bytes(PAPERS, label="Mar 41"))
    (landing / "other.txt").write_bytes(b"")
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    assert sorted(r[0] for r in query(warehouse, "select reason from quarantine")) == [
        "empty",
        "impossible_date",
    ]
    bad.write_bytes(dump_bytes(PAPERS, label="Mar 14"))  # the corrected file, same name
    os.utime(bad, (1.7e9, 1.7e9))
    summary = replay(warehouse=str(warehouse))
    assert summary.dumps_loaded == 1
    assert query(warehouse, "select reason from quarantine") == [("empty",)]
    assert query(warehouse, "select n_papers from dumps") == [(3,)]
    # The replayed dump's listings reach the summaries too.
    keyphrases = "select phrase, listed_on, n_papers, n_words from keyphrase_frequency order by all"
    assert query(warehouse, keyphrases) == query(warehouse, FULL_KEYPHRASE_FREQUENCY) != []
    # A later ingest sees the corrected file as already read: nothing new.
    assert ingest(paths=[str(landing)], warehouse=str(warehouse)).nothing_new


def test_replay_parses_archived_bytes_again(landing: Path, warehouse: Path) -> None:
    from paperlake.lake import Warehouse

    bad = landing / "2025-03-14_daily.txt"
    bad.write_bytes(dump_bytes(PAPERS))
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    # Simulate a file rejected by an older, stricter parser: quarantine it by hand.
    store = Warehouse(warehouse)
    dumps = store.scan("dumps").collect()
    quarantine = store.scan("quarantine").collect()
    row = {
        "source_file": dumps["source_file"][0],
        "dump_id": dumps["dump_id"][0],
        "scope": "file",
        "table_name": None,
        "reason": "no_entries",
        "detail": "old parser bug",
        "line": None,
        "title": None,
        "archive_path": dumps["archive_path"][0],
        "run_id": "old",
        "quarantined_at": dumps["ingested_at"][0],
    }
    import polars as pl

    empty = {name: store.scan(name).collect().clear() for name in ("dumps", "listings")}
    with store.session():
        old = store.begin("old")
        old.replace(
            {
                **empty,
                "quarantine": pl.concat(
                    [quarantine, pl.DataFrame([row], schema=quarantine.schema)]
                ),
            }
        )
        old.commit()
    summary = replay(warehouse=str(warehouse))
    assert summary.dumps_loaded == 1
    assert query(warehouse, "select count(*) from quarantine") == [(0,)]
    assert query(warehouse, "select n_papers from dumps") == [(3,)]


def test_replay_with_nothing_quarantined_says_so(landing: Path, warehouse: Path) -> None:
    (landing / "2025-03-14_daily.txt").write_bytes(dump_bytes(PAPERS))
    first = ingest(paths=[str(landing)], warehouse=str(warehouse))
    summary = replay(warehouse=str(warehouse))
    assert summary.nothing_new and summary.snapshot == first.snapshot
