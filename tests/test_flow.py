"""The Prefect flow under a real (test) Prefect backend: loading, idempotency, quarantine."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperlake.flows.ingest import QuarantineError, RunSummary, ingest
from paperlake.lake import CatalogError, Warehouse, WarehouseBusy
from tests.conftest import SAMPLE_CAPTURE, SAMPLES, query
from tests.dumps import PAPERS, abstract, dump_bytes

pytestmark = pytest.mark.usefixtures("prefect_harness")

STABLE_VIEWS = {
    "dumps": "select dump_id, listed_on, captured_on, n_papers from dumps",
    "listings": "select * from listings",
    "papers": "select * from papers",
    "repos": "select * from repos",
    "entities": "select * from entities",
    "topic_frequency": "select * from topic_frequency",
    "quarantine": "select source_file, dump_id, reason, detail from quarantine",
}


def run(paths: list[Path], root: Path, **kwargs: object) -> RunSummary:
    return ingest(paths=[str(p) for p in paths], warehouse=str(root), **kwargs)  # type: ignore[arg-type]


def snapshot(root: Path) -> dict[str, list[tuple]]:
    return {name: sorted(query(root, sql), key=repr) for name, sql in STABLE_VIEWS.items()}


def test_reingest_adds_nothing(sample_landing: Path, warehouse: Path) -> None:
    first = run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    before = snapshot(warehouse)
    second = run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    assert first.dumps_loaded == 2 and first.rows["listings"] == 115
    assert second.nothing_new
    assert second.skipped_unchanged == 2
    assert second.snapshot == first.snapshot  # no empty snapshots
    assert "nothing new" in second.lines()[0]
    assert snapshot(warehouse) == before


def test_same_bytes_under_another_name_add_nothing(sample_landing: Path, warehouse: Path) -> None:
    run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    before = snapshot(warehouse)
    copy = sample_landing / "copy of 000.txt"
    shutil.copy(SAMPLES / "000_9cf45ac0ac824760.txt", copy)
    touched = sample_landing / "004_60d37dd4bbb87380.txt"
    os.utime(touched, (1e9, 1e9))  # same bytes, new mtime: read again, still a duplicate
    summary = run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    assert summary.skipped_duplicate == 2
    assert summary.dumps_loaded == 0
    assert summary.rows["listings"] == 0 and summary.rows["sources"] == 2
    assert snapshot(warehouse) == before
    # ...and a third run does not even read them.
    assert run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE).skipped_unchanged == 3


def test_bad_files_are_quarantined_and_good_ones_still_land(
    sample_landing: Path, warehouse: Path
) -> None:
    bad = {
        "empty.txt": b"",
        "page.html": b"<!DOCTYPE html><html><body>Mar 14</body></html>",
        "latin1.txt": "Mar 14\n\nCaf\xe9\n".encode("latin-1"),
        "no-label.txt": dump_bytes(PAPERS, label="Trending"),
        "feb30.txt": dump_bytes(PAPERS, label="Feb 30"),
    }
    for name, data in bad.items():
        (sample_landing / name).write_bytes(data)
    summary = run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    assert summary.dumps_loaded == 2
    assert summary.files_quarantined == 5
    reasons = dict(
        (Path(f).name, r) for f, r in query(warehouse, "select source_file, reason from quarantine")
    )
    assert reasons == {
        "empty.txt": "empty",
        "page.html": "html",
        "latin1.txt": "not_utf8",
        "no-label.txt": "no_date_label",
        "feb30.txt": "impossible_date",
    }
    # Nothing is lost: every quarantined file's bytes are in the raw archive.
    for source, archive in query(warehouse, "select source_file, archive_path from quarantine"):
        assert (warehouse / archive).read_bytes() == Path(source).read_bytes()
    assert query(warehouse, "select count(*) from repeated_listings") == [(7,)]
    # Already-quarantined bytes are not quarantined again on the next run.
    for name in bad:
        os.utime(sample_landing / name, (2e9, 2e9))
    assert run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE).files_quarantined == 0


def test_strict_fails_after_publishing_the_good_input(
    sample_landing: Path, warehouse: Path
) -> None:
    (sample_landing / "empty.txt").write_bytes(b"")
    logged = Records()
    flow_runs = logging.getLogger("prefect.flow_runs")
    flow_runs.addHandler(logged)
    try:
        with pytest.raises(QuarantineError, match="1 file") as failed:
            run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE, strict=True)
    finally:
        flow_runs.removeHandler(logged)
    assert query(warehouse, "select count(*) from dumps") == [(2,)]
    # The run fails on purpose: its message, without a traceback as if it had crashed.
    messages = [record.getMessage() for record in logged.records]
    assert any("Failed('--strict: 1 file(s)" in message for message in messages)
    assert not [record.getMessage() for record in logged.records if record.exc_info]
    # the summary the command line prints first, as for a run that succeeds
    assert failed.value.lines[0].startswith("loaded 2 dump(s)")
    assert any("empty.txt" in line for line in failed.value.lines)


class Records(logging.Handler):
    """A logging handler that keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_damaged_entries_do_not_shift_the_pairing(landing: Path, warehouse: Path) -> None:
    blocks = [
        "Mar 14",
        "First paper",
        abstract("first"),
        "Lost its abstract",
        "Third paper",
        abstract("third"),
        "T" * 600,
        abstract("an overlong title"),
        "!!!",
        abstract("a title of punctuation only"),
    ]
    (landing / "2025-03-14_damaged.txt").write_text("\n\n".join(blocks))
    summary = run([landing], warehouse)
    assert summary.dumps_loaded == 1 and summary.entries_quarantined == 3
    assert query(warehouse, "select title, abstract from papers order by title") == [
        ("First paper", abstract("first")),
        ("Third paper", abstract("third")),
    ]
    assert query(warehouse, "select position from listings order by position") == [(1,), (3,)]
    rows = query(warehouse, "select reason, line, detail from quarantine order by line")
    assert [(r[0], r[1]) for r in rows] == [("missing_abstract", 7), ("schema", 13), ("schema", 17)]
    assert "Entries.title: expected str_length(1, 500)" in rows[1][2]
    assert "Entries.title_key: expected str_length(1, None)" in rows[2][2]
    assert query(warehouse, "select n_papers, n_entry_problems from dumps") == [(2, 3)]


def test_paper_identity_across_and_within_dumps(landing: Path, warehouse: Path) -> None:
    (landing / "2025-03-14_a.txt").write_bytes(
        dump_bytes(
            [
                ("Order Matters: Sequence to sequence for sets", abstract("a")),
                ("ORDER MATTERS:  Sequence to Sequence for Sets", abstract("again")),
                ("Other paper", abstract("b")),
            ]
        )
    )
    (landing / "2025-03-15_b.txt").write_bytes(
        dump_bytes(
            [
                ("order matters - sequence to sequence for sets", abstract("c")),
            ],
            label="Mar 15",
        )
    )
    run([landing], warehouse)
    assert query(warehouse, "select title, n_dumps, n_listing_days from repeated_listings") == [
        ("Order Matters: Sequence to sequence for sets", 2, 2)
    ]
    assert query(warehouse, "select n_papers from dumps order by listed_on") == [(2,), (1,)]


def test_capture_date_from_name_and_mtime(landing: Path, warehouse: Path) -> None:
    (landing / "2026-01-01_x.txt").write_bytes(dump_bytes(PAPERS[:1], label="Dec 31"))
    undated = landing / "undated.txt"
    undated.write_bytes(dump_bytes(PAPERS[1:2], label="Mar 14"))
    stamp = datetime(2024, 3, 12, 12, tzinfo=UTC).timestamp()
    os.utime(undated, (stamp, stamp))
    # captured in Tokyo at 08:30 on Mar 14: its mtime's UTC day is the 13th
    tokyo = landing / "tokyo.txt"
    tokyo.write_bytes(dump_bytes(PAPERS[2:3], label="Mar 14"))
    stamp = datetime(2024, 3, 13, 23, 30, tzinfo=UTC).timestamp()
    os.utime(tokyo, (stamp, stamp))
    run([landing], warehouse)
    rows = query(
        warehouse,
        "select listed_on, captured_on, captured_on_source from dumps order by listed_on",
    )
    assert rows == [
        (date(2023, 3, 14), date(2024, 3, 12), "mtime"),  # not a day ahead: a year back
        (date(2024, 3, 14), date(2024, 3, 13), "mtime"),  # a day ahead: the page's zone
        (date(2025, 12, 31), date(2026, 1, 1), "file_name"),
    ]


def test_future_capture_date_fails_its_contract(landing: Path, warehouse: Path) -> None:
    (landing / "2099-01-01_future.txt").write_bytes(dump_bytes(PAPERS))
    summary = run([landing], warehouse)
    assert summary.files_quarantined == 1
    [(reason, detail)] = query(warehouse, "select reason, detail from quarantine")
    assert reason == "schema"
    assert "captured_on must not be after the day after the ingestion date" in detail


def test_a_second_run_is_refused_while_the_lock_is_held(
    sample_landing: Path, warehouse: Path
) -> None:
    with (
        Warehouse(warehouse).lock(),
        pytest.raises(
            WarehouseBusy,
            match=r"another run holds the warehouse .* since .*\(pid \d+ on [^:]+: \S+.*\)",
        ),
    ):
        run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    assert run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE).dumps_loaded == 2


def test_unreadable_file_is_quarantined_once(landing: Path, warehouse: Path) -> None:
    (landing / "2025-03-14_ok.txt").write_bytes(dump_bytes(PAPERS))
    (landing / "dangling.txt").symlink_to(landing / "missing-target.txt")
    (landing / ".hidden.txt").write_bytes(b"")
    (landing / "partial.txt.part").write_bytes(b"Mar")
    summary = run([landing], warehouse)
    assert summary.dumps_loaded == 1 and summary.skipped_in_progress == 2
    [named] = [line for line in summary.lines() if "left for a later run" in line]
    assert ".hidden.txt" in named and "partial.txt.part" in named  # never loaded: said
    rows = query(warehouse, "select reason, dump_id, detail from quarantine")
    assert [(r[0], r[1]) for r in rows] == [("unreadable", None)]
    assert "cannot stat" in rows[0][2]
    again = run([landing], warehouse)
    assert again.files_quarantined == 0
    # counted somewhere: seen = loaded + unchanged + duplicate + in progress + quarantined + ...
    assert (again.files_seen, again.skipped_unchanged, again.still_unreadable) == (4, 1, 1)
    assert "0 quarantined, 1 still unreadable" in again.lines()[1]
    for name in ("2025-03-14_ok.txt", "dangling.txt"):
        (landing / name).unlink()
    waiting = run([landing], warehouse)  # only the files still being written
    assert waiting.files_seen == waiting.skipped_in_progress == 2
    assert waiting.lines()[0].startswith("nothing new: only inputs left for a later run")


def test_summary_artifact_is_published(sample_landing: Path, warehouse: Path) -> None:
    from prefect.client.orchestration import get_client

    async def summaries() -> list[str]:
        # read_artifacts() sends nulls this server version rejects; ask the API directly.
        async with get_client() as client:
            response = await client.request(
                "POST",
                "/artifacts/filter",
                json={
                    "artifacts": {"key": {"any_": ["paperlake-run-summary"]}},
                    "limit": 50,
                    "offset": 0,
                    "sort": "CREATED_DESC",
                },
            )
        return [artifact["description"] or "" for artifact in response.json()]

    run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    assert any(
        "loaded 2 dump(s)" in text and str(warehouse) in text for text in asyncio.run(summaries())
    )


def test_one_dump_per_chunk_publishes_what_one_chunk_does(landing: Path, tmp_path: Path) -> None:
    """Chunks run at once on the task runner and are reconciled in order: the warehouse is
    the same whatever the chunk size, cross-chunk copies and shared papers included."""
    for path in sorted(SAMPLES.glob("*.txt")):
        shutil.copy(path, landing / path.name)
        shutil.copy(path, landing / f"zz copy of {path.name}")
    (landing / "empty.txt").write_bytes(b"")
    (landing / "zz empty again.txt").write_bytes(b"")
    whole = run([landing], tmp_path / "whole", captured_on=SAMPLE_CAPTURE)
    split = run([landing], tmp_path / "split", captured_on=SAMPLE_CAPTURE, batch_size=1)
    assert snapshot(tmp_path / "split") == snapshot(tmp_path / "whole")
    assert (split.dumps_loaded, split.skipped_duplicate) == (whole.dumps_loaded, 3) == (2, 3)
    assert split.rows == whole.rows
    assert gc.get_freeze_count() == 0  # the chunks' collections unfroze what they froze


def test_a_damaged_data_file_is_a_catalog_error_naming_its_table(
    sample_landing: Path, warehouse: Path
) -> None:
    """It was a polars traceback after two retries (exit 1), naming neither the table nor
    what to do."""
    run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)
    [damaged, *_] = sorted((warehouse / "lake" / "data" / "main" / "dumps").glob("*.parquet"))
    data = damaged.read_bytes()
    damaged.write_bytes(data[:60] + bytes(len(data) - 120) + data[-60:])
    with pytest.raises(CatalogError, match=r"the lake's dumps table cannot be read .* rebuild"):
        run([sample_landing], warehouse, captured_on=SAMPLE_CAPTURE)


def test_rehash_reads_a_file_rewritten_with_its_size_and_time(
    landing: Path, warehouse: Path
) -> None:
    """``cp -p`` or ``rsync -t`` of other bytes of the same size keeps both: the file reads
    as unchanged, and only ``rehash`` loads it (its bytes were never read otherwise)."""
    today = landing / "2025-03-14_today.txt"
    today.write_bytes(dump_bytes(PAPERS))
    os.utime(today, (1.7e9, 1.7e9))
    assert run([landing], warehouse).dumps_loaded == 1
    today.write_bytes(dump_bytes([(PAPERS[0][0].replace("R", "Q", 1), PAPERS[0][1]), *PAPERS[1:]]))
    os.utime(today, (1.7e9, 1.7e9))
    assert run([landing], warehouse).skipped_unchanged == 1
    again = run([landing], warehouse, rehash=True)
    assert again.dumps_loaded == 1 and again.skipped_unchanged == 0
    assert query(warehouse, "select count(*) from dumps") == [(2,)]
    assert run([landing], warehouse, rehash=True).skipped_duplicate == 1  # nothing twice


def test_an_unreadable_input_read_later_leaves_quarantine(
    landing: Path, warehouse: Path, tmp_path: Path
) -> None:
    """A link whose target appears later: it loaded, and stayed listed as never read (in
    ``dumps`` and in ``quarantine`` at once) until a replay."""
    target = tmp_path / "elsewhere" / "2025-03-14_later.txt"
    (landing / "2025-03-14_link.txt").symlink_to(target)
    assert run([landing], warehouse).files_quarantined == 1
    target.parent.mkdir()
    target.write_bytes(dump_bytes(PAPERS))
    assert run([landing], warehouse).dumps_loaded == 1
    assert query(warehouse, "select count(*) from quarantine") == [(0,)]


def test_an_input_that_fails_to_open_again_is_counted(
    landing: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permission denied when opened, as on the run before: it was counted nowhere."""
    from paperlake import archive

    (landing / "2025-03-14_ok.txt").write_bytes(dump_bytes(PAPERS))
    (landing / "secret.txt").write_bytes(dump_bytes(PAPERS[:1]))
    opened = os.open

    def denied(path: str, *args: object, **kwargs: object) -> int:
        if str(path).endswith("secret.txt"):
            raise PermissionError(13, "Permission denied")
        return opened(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(archive.os, "open", denied)
    assert run([landing], warehouse).files_quarantined == 1
    again = run([landing], warehouse)
    assert (again.files_seen, again.files_quarantined, again.still_unreadable) == (2, 0, 1)
