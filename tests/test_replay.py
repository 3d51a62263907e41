"""``paperlake replay``: quarantined files processed again and cleared when they load."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from paperlake.flows.ingest import ingest, replay
from tests.conftest import query
from tests.dumps import PAPERS, dump_bytes
from tests.test_summaries import FULL_KEYPHRASE_FREQUENCY

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_corrected_redrop_is_loaded_and_the_bad_bytes_stay_quarantined(
    landing: Path, warehouse: Path
) -> None:
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
    # The bytes first read there were parsed again: still no date, still quarantined (the
    # path may be a name reused for each day's capture: they are never dropped unparsed).
    assert sorted(r[0] for r in query(warehouse, "select reason from quarantine")) == [
        "empty",
        "impossible_date",
    ]
    assert query(warehouse, "select n_papers from dumps") == [(3,)]
    # The replayed dump's listings reach the summaries too.
    keyphrases = "select phrase, listed_on, n_papers, n_words from keyphrase_frequency order by all"
    assert query(warehouse, keyphrases) == query(warehouse, FULL_KEYPHRASE_FREQUENCY) != []
    # A later ingest sees the corrected file as already read: nothing new.
    assert ingest(paths=[str(landing)], warehouse=str(warehouse)).nothing_new


def quarantine_by_hand(warehouse: Path) -> None:
    """Move every loaded dump to quarantine as an older, stricter parser would have left it
    (its listings gone, one file row each)."""
    import polars as pl

    from paperlake.lake import Warehouse

    store = Warehouse(warehouse)
    dumps = store.scan("dumps").collect()
    quarantine = store.scan("quarantine").collect()
    rows = pl.DataFrame(
        {
            "source_file": dumps["source_file"],
            "dump_id": dumps["dump_id"],
            "scope": "file",
            "table_name": None,
            "reason": "no_entries",
            "detail": "old parser bug",
            "line": None,
            "title": None,
            "archive_path": dumps["archive_path"],
            "run_id": "old",
            "quarantined_at": dumps["ingested_at"],
        },
        schema=quarantine.schema,
    )
    empty = {name: store.scan(name).collect().clear() for name in ("dumps", "listings")}
    with store.session():
        old = store.begin("old")
        old.replace({**empty, "quarantine": pl.concat([quarantine, rows])})
        old.commit()


def test_replay_parses_archived_bytes_again(landing: Path, warehouse: Path) -> None:
    (landing / "2025-03-14_daily.txt").write_bytes(dump_bytes(PAPERS))
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    quarantine_by_hand(warehouse)
    summary = replay(warehouse=str(warehouse))
    assert summary.dumps_loaded == 1
    assert query(warehouse, "select count(*) from quarantine") == [(0,)]
    assert query(warehouse, "select n_papers from dumps") == [(3,)]


def test_replay_gives_a_dump_the_capture_date_it_was_read_with(
    landing: Path, warehouse: Path
) -> None:
    """``--captured-on`` given to the ingest holds on replay: the name has no date and the
    file's mtime (today) would put "Mar 14" in another year."""
    (landing / "daily.txt").write_bytes(dump_bytes(PAPERS))
    ingest(paths=[str(landing)], warehouse=str(warehouse), captured_on=date(2024, 3, 20))
    quarantine_by_hand(warehouse)
    assert replay(warehouse=str(warehouse)).dumps_loaded == 1
    dates = "select listed_on, captured_on, captured_on_source from dumps"
    assert query(warehouse, dates) == [(date(2024, 3, 14), date(2024, 3, 20), "override")]


def test_replay_parses_every_dump_a_reused_name_left_in_quarantine(
    landing: Path, warehouse: Path
) -> None:
    """A landing name reused for each day's capture: two days quarantined whole, then a day
    that loads with one bad entry.  Replay parses both quarantined days again (they still
    fail) and keeps the loaded day's entry row."""
    today = landing / "today.txt"
    for day, content in enumerate([b"<html>day one</html>\n", b"<html>day two</html>\n"]):
        today.write_bytes(content)
        os.utime(today, (1.7e9 + day * 86400, 1.7e9 + day * 86400))
        ingest(paths=[str(landing)], warehouse=str(warehouse))
    today.write_bytes(dump_bytes([*PAPERS, ("A title without its abstract", "")], label="Nov 16"))
    os.utime(today, (1.7e9 + 2 * 86400, 1.7e9 + 2 * 86400))
    ingest(paths=[str(landing)], warehouse=str(warehouse))
    rows = "select dump_id, scope, reason, quarantined_at from quarantine order by all"
    before = query(warehouse, rows)
    assert [scope for _, scope, _, _ in before].count("file") == 2 and len(before) == 3
    summary = replay(warehouse=str(warehouse))
    assert summary.dumps_loaded == 0
    assert query(warehouse, rows) == before  # rejected again: first quarantined when it was
    # inputs counted, not paths: "1 seen, 1 quarantined" for the two
    assert (summary.files_seen, summary.files_quarantined) == (2, 2)


def test_replay_with_nothing_quarantined_says_so(landing: Path, warehouse: Path) -> None:
    (landing / "2025-03-14_daily.txt").write_bytes(dump_bytes(PAPERS))
    first = ingest(paths=[str(landing)], warehouse=str(warehouse))
    summary = replay(warehouse=str(warehouse))
    assert summary.nothing_new and summary.snapshot == first.snapshot
