"""The publish stage without Prefect: a run's batches, its summaries, one commit, the views."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperlake import publish
from paperlake.archive import archive_inputs
from paperlake.discover import chunks, discover
from paperlake.lake import Warehouse
from paperlake.schemas.tables import PUBLISHED, SUMMARIES
from paperlake.topics import load_taxonomy
from paperlake.transform import Known, reconcile, transform
from tests.conftest import SAMPLE_CAPTURE, SAMPLES, query

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def test_batches_and_summaries_publish_in_one_commit(tmp_path: Path) -> None:
    store = Warehouse(tmp_path / "warehouse")
    taxonomy = load_taxonomy()
    with store.session():
        run = store.begin("run-1")
        found = discover([SAMPLES], {})
        batches = []
        for chunk in chunks(found.candidates, 1, 1 << 30):
            raws, _, _ = archive_inputs(store, chunk, SAMPLE_CAPTURE)
            batches.append(transform(raws, [], Known(), taxonomy, "run-1", NOW))
        new: dict = {name: [] for name in publish.SUMMARIZED}
        published = list(reconcile(batches))
        writer = publish.Writer(run)
        for batch in published:
            assert set(batch.tables) | SUMMARIES == set(PUBLISHED)  # a contract per table
            writer.write(batch)
            for name, part in publish.summarized(batch).items():  # all a run keeps of it
                new[name].append(part)
        writer.flush()
        summaries = publish.write_summaries(run, new)
        assert summaries.keys() == SUMMARIES and summaries["keyphrase_daily"] > 0
        assert "run-1" not in {e.run_id for e in store.history()}  # invisible until the commit
        version = publish.commit(store, run, retention_days=30).snapshot
    assert [e.run_id for e in store.history()].count("run-1") == 1  # one snapshot
    papers = sum(b.tables["papers"].height for b in published)
    assert papers < sum(b.tables["papers"].height for b in batches)  # papers on both days
    assert query(store.root, "select count(*) from papers") == [(papers,)]
    assert store.current_version() == version


def test_a_written_batch_is_not_held_until_the_commit(tmp_path: Path) -> None:
    """DuckDB keeps what a transaction registered until it ends: a backfill held every
    batch it wrote (a 10-year one: ~1 GB) until its commit."""
    store = Warehouse(tmp_path / "warehouse")
    with store.session():
        run = store.begin("run-1")
        raws, _, _ = archive_inputs(store, discover([SAMPLES], {}).candidates, SAMPLE_CAPTURE)
        batch = transform(raws, [], Known(), load_taxonomy(), "run-1", NOW)
        written = [weakref.ref(frame) for frame in batch.tables.values() if frame.height]
        writer = publish.Writer(run)
        writer.write(batch)
        writer.flush()
        del batch
        gc.collect()
        assert [frame() for frame in written] == [None] * len(written)
        assert run.scan("papers").collect().height > 0  # written all the same
        run.rollback()


def test_retag_replaces_topics_and_version(tmp_path: Path) -> None:
    store = Warehouse(tmp_path / "warehouse")
    taxonomy = load_taxonomy()
    with store.session():
        run = store.begin("run-1")
        raws, _, _ = archive_inputs(store, discover([SAMPLES], {}).candidates, SAMPLE_CAPTURE)
        writer = publish.Writer(run)
        writer.write(next(reconcile([transform(raws, [], Known(), taxonomy, "r", NOW)])))
        writer.flush()
        publish.commit(store, run, retention_days=30)
        papers = store.scan("papers").collect()
    edited = taxonomy.__class__(taxonomy.topics[:1], "edited")
    retagged = publish.retag(papers, edited)
    assert set(retagged["papers"]["taxonomy_version"]) == {"edited"}
    assert set(retagged["paper_topics"]["topic"]) <= {taxonomy.topics[0].name}
    assert retagged["papers"].height == papers.height


def test_the_writer_appends_a_table_once_it_holds_enough_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill's smaller tables are appended once HOLD_BYTES of their rows are held, not
    once per chunk: fewer, bigger files, and fewer left for maintenance to merge."""
    store = Warehouse(tmp_path / "warehouse")
    taxonomy = load_taxonomy()
    with store.session():
        run = store.begin("run-1")
        batches = []
        for chunk in chunks(discover([SAMPLES], {}).candidates, 1, 1 << 30):  # a dump each
            raws, _, _ = archive_inputs(store, chunk, SAMPLE_CAPTURE)
            batches.append(transform(raws, [], Known(), taxonomy, "run-1", NOW))
        first, second = reconcile(batches)
        # papers (abstracts) fill the limit in each batch; listings, a few bytes a row, do not
        limit = min(first.tables["papers"].estimated_size(), 2 * 1024 * 1024)
        assert sum(b.tables["listings"].estimated_size() for b in (first, second)) < limit
        monkeypatch.setattr(publish, "HOLD_BYTES", limit)
        writer = publish.Writer(run)
        writer.write(first)
        big = {n: f.height for n, f in first.tables.items() if f.estimated_size() >= limit}
        assert "papers" in big and "listings" not in big
        assert run.rows == big  # the rest is held
        assert run.scan("listings").collect().height == 0
        writer.write(second)
        writer.flush()
        assert writer.held == {}
        both = (first, second)
        assert run.rows == {name: sum(b.tables[name].height for b in both) for name in first.tables}
        publish.commit(store, run, retention_days=30)
    files = store.current().tables
    assert len(files["listings"]) == 1 and len(files["papers"]) == 2


def test_a_failure_after_the_commit_is_said_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the views were rebuilt after the commit: a traceback, the run
    reported failed (and the schedule retried it) while its rows were in the lake."""
    store = Warehouse(tmp_path / "warehouse")

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    with store.session():
        run = store.begin("run-1")
        raws, _, _ = archive_inputs(store, discover([SAMPLES], {}).candidates, SAMPLE_CAPTURE)
        writer = publish.Writer(run)
        writer.write(next(reconcile([transform(raws, [], Known(), load_taxonomy(), "r", NOW)])))
        writer.flush()
        monkeypatch.setattr(publish, "ensure_database", full)
        published = publish.commit(store, run, retention_days=30)
    assert published.snapshot == store.current_version()
    assert published.unfinished == "OSError: [Errno 28] No space left on device"
    assert [e.run_id for e in store.history()].count("run-1") == 1
    # a failure with nothing committed is the run's failure
    with store.session(), pytest.raises(OSError, match="No space"):
        publish.commit(store, store.begin("run-2"), retention_days=30)
