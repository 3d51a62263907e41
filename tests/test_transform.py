"""The transform stage without Prefect: a backfill cut into N chunks, each transformed alone
and reconciled in order, publishes exactly what one chunk does."""

from __future__ import annotations

import hashlib
import os
import pickle
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from paperlake.archive import RawDump
from paperlake.discover import Unreadable
from paperlake.parse import capture_date_from_name
from paperlake.topics import load_taxonomy
from paperlake.transform import Batch, Known, reconcile, transform
from tests.conftest import ROOT, SAMPLES
from tests.dumps import PAPERS, abstract, dump_bytes

REAL = Path(os.environ.get("PAPERLAKE_SHARED", ROOT.parent / "shared")) / "real"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TAXONOMY = load_taxonomy()


def raw(path: str, data: bytes, captured_on: date = date(2025, 3, 14)) -> RawDump:
    dump_id = hashlib.sha256(data).hexdigest()
    return RawDump(
        path,
        data,
        len(data),
        dump_id,
        f"raw/{dump_id[:2]}/{dump_id}.txt",
        7,
        captured_on,
        "file_name",
    )


def real_days() -> list[RawDump]:
    if not REAL.is_dir():
        pytest.skip(f"no real dumps at {REAL} (set PAPERLAKE_SHARED)")
    days = sorted(REAL.glob("*.txt"))
    return [
        raw(str(p), p.read_bytes(), capture_date_from_name(p.name) or date(2025, 1, 1))
        for p in days
    ]


def planted() -> tuple[list[RawDump], list[Unreadable]]:
    """Inputs whose right handling needs to know what other chunks hold."""
    shared_paper = ("Planted: One paper listed on two days far apart", abstract("planted twins"))
    first = dump_bytes([PAPERS[0], shared_paper], label="Mar 10")
    later = dump_bytes([shared_paper, PAPERS[1]], label="Mar 12")
    broken = dump_bytes(
        [PAPERS[2], ("Entry Whose Abstract Is Missing", "")], label="Mar 11"
    )  # an entry problem
    sample = sorted(SAMPLES.glob("*.txt"))[0].read_bytes()
    raws = [
        raw("/land/first.txt", first),
        raw("/land/broken.txt", broken),
        raw("/land/empty.txt", b""),
        raw("/land/sample.txt", sample),
        raw("/land/later.txt", later),
        raw("/land/copy of first.txt", first),  # same bytes, another name, another chunk
        raw("/land/empty again.txt", b""),  # a rejected file's bytes again
        raw("/land/broken copy.txt", broken),
        raw("/land/sample copy.txt", sample),
    ]
    return raws, [Unreadable("/land/fifo", "not a regular file: a named pipe")]


def run(raws: list[RawDump], unreadable: list[Unreadable], size: int, known: Known) -> list[Batch]:
    chunks = [raws[i : i + size] for i in range(0, len(raws), size)]
    batches = [
        # the flow hands the first chunk discovery's unreadable inputs; repeat them in every
        # chunk here, to check they are still reported once
        transform(chunk, unreadable, known, TAXONOMY, "run-1", NOW)
        for chunk in chunks
    ]
    return list(reconcile(batches))


def tables(batches: list[Batch]) -> dict[str, pl.DataFrame]:
    return {
        name: pl.concat([b.tables[name] for b in batches]).sort(pl.all(), nulls_last=True)
        for name in batches[0].tables
    }


def totals(batches: list[Batch]) -> tuple[int, list[str], list[str]]:
    return (
        sum(b.duplicates for b in batches),
        sorted(d for b in batches for d in b.loaded_dump_ids),
        sorted(f for b in batches for f in b.quarantined_files),
    )


@pytest.mark.parametrize("size", [1, 2, 4])
def test_planted_cross_chunk_duplicates_reconcile_as_one_chunk(size: int) -> None:
    raws, unreadable = planted()
    whole = run(raws, unreadable, len(raws), Known())
    split = run(raws, unreadable, size, Known())
    expected = tables(whole)
    for name, frame in tables(split).items():
        assert frame.equals(expected[name]), name
    assert totals(split) == totals(whole)
    duplicates, loaded, files = totals(whole)
    assert duplicates == 4
    assert files == ["/land/empty.txt", "/land/fifo"]
    assert len(loaded) == 4
    # the paper listed in two chunks is published once, from its first listing
    assert (
        expected["papers"]["title"]
        .to_list()
        .count("Planted: One paper listed on two days far apart")
        == 1
    )
    assert expected["listings"].height == sum(b.tables["dumps"]["n_papers"].sum() for b in whole)
    assert expected["sources"].height == len(raws)


def test_real_days_in_one_chunk_and_in_many_publish_the_same_tables() -> None:
    days = real_days()
    whole = run(days, [], len(days), Known())
    split = run(days, [], 37, Known())
    expected = tables(whole)
    assert expected["papers"].height > 1000
    for name, frame in tables(split).items():
        assert frame.equals(expected[name]), name
    assert totals(split) == totals(whole)


def test_known_is_only_read_and_what_it_holds_is_not_new() -> None:
    raws, unreadable = planted()
    first = run(raws[:4], unreadable, 4, Known())
    known = Known(
        dumps=frozenset(d for b in first for d in b.processed),
        papers=pl.concat([b.tables["papers"]["paper_id"] for b in first]),
        unreadable=frozenset((u.path, u.detail) for u in unreadable),
    )
    before = pickle.dumps(known)
    again = transform(raws, unreadable, known, TAXONOMY, "run-2", NOW)
    assert pickle.dumps(known) == before
    assert again.duplicates == 8  # first, broken, empty and sample, each twice
    assert again.loaded_dump_ids == [raws[4].dump_id]
    assert again.quarantine.height == 0  # the unreadable input was reported by the first run
    assert again.tables["papers"]["title"].to_list() == [PAPERS[1][0]]


def test_a_chunk_and_its_batch_pickle_for_any_task_runner() -> None:
    raws, unreadable = planted()
    arguments = (raws, unreadable, Known(), TAXONOMY, "run-1", NOW)
    batch = transform(*pickle.loads(pickle.dumps(arguments)))
    copy = pickle.loads(pickle.dumps(batch))
    assert copy.tables.keys() == batch.tables.keys()
    assert all(copy.tables[name].equals(frame) for name, frame in batch.tables.items())
    assert copy.owners == batch.owners and copy.duplicates == batch.duplicates


def test_a_failing_per_paper_row_names_the_file_line_and_title_of_its_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row of an enrichment (here a link whose repo breaks ``PaperLinks``) carries only a
    paper_id: its quarantine row names the file, line and title of the entry that brought
    the paper in (it used to say "(unknown)" with no line)."""
    from paperlake import frames

    links = frames.ENRICHMENTS["paper_links"]

    def with_a_bad_repo(papers: pl.DataFrame, taxonomy: object) -> pl.DataFrame:
        good = links(papers, taxonomy)  # type: ignore[arg-type]
        bad = {"paper_id": papers["paper_id"][1], "url": "https://x.org/a", "kind": "repo"}
        return pl.concat([good, pl.DataFrame([{**bad, "repo": "not a repo"}], schema=good.schema)])

    monkeypatch.setitem(frames.ENRICHMENTS, "paper_links", with_a_bad_repo)
    day = raw("/land/2025-03-14_day.txt", dump_bytes(PAPERS))
    batch = transform([day], [], Known(), TAXONOMY, "run", NOW)
    [row] = batch.quarantine.to_dicts()
    assert (row["source_file"], row["dump_id"], row["scope"]) == (day.path, day.dump_id, "row")
    assert (row["line"], row["title"], row["table_name"]) == (15, PAPERS[1][0], "paperlinks")
    assert batch.tables["papers"].height == 3  # the paper itself loads


def test_a_dump_whose_every_entry_fails_its_contract_is_quarantined_as_no_entries() -> None:
    day = raw("/land/2025-03-14_day.txt", dump_bytes([(" ".join(["Word"] * 1000), abstract())]))
    batch = transform([day], [], Known(), TAXONOMY, "run", NOW)
    rows = batch.quarantine.select("scope", "reason", "line", "detail").rows()
    assert [row[:3] for row in rows] == [("entry", "schema", 11), ("file", "no_entries", 9)]
    assert "none of its 1 entries after the date label 'Mar 14' passed" in rows[1][3]
    assert batch.tables["dumps"].height == 0 and batch.processed == {day.dump_id}
