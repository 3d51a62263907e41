"""How ``title_words`` is stored: integers, sorted, read whole by a daily run
(paperlake.summaries), and an older lake's strings converted once (paperlake.lake.catalog)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest

from paperlake import summaries
from paperlake.lake import LAKE, Warehouse, catalog
from paperlake.publish import SUMMARIZED, write_summaries
from tests.test_summaries import _papers, _titles

OLD_MACROS = """
create or replace temp macro word_hash(word) as word;
create or replace temp macro paper_number(paper_id) as paper_id;
create or replace temp macro paper_hex(paper_number) as paper_number;
"""
"""With these macros the title queries index words as a lake did before they were hashed:
the words and the paper_ids as strings."""
OLD_WORDS = {"word": pl.String, "paper_id": pl.String, "is_end": pl.Boolean}


def test_title_words_are_stored_as_sorted_integers(tmp_path: Path) -> None:
    """Each stored row is the md5 word hash (the lower 64 bits: stable, so a lake's words
    keep their numbers across versions) and the paper_id's number (its 16 hex digits), each
    file a run writes sorted by (word, paper_id)."""
    store = Warehouse(tmp_path / "wh")
    papers = _papers(_titles(300, seed=37))
    with store.session():
        run = store.begin("run")
        run.append({"papers": papers})
        write_summaries(run, {"papers": [papers]})
        run.commit()
        files = store.current().tables
    words = pl.read_parquet(files["title_words"])
    assert words.schema == pl.Schema(
        {"word": pl.UInt64, "paper_id": pl.UInt64, "is_end": pl.Boolean}
    )
    with duckdb.connect() as con:
        ends = con.execute(
            "SELECT count(*) FROM read_parquet(?) AS w JOIN read_parquet(?) AS p "
            "ON printf('%016x', w.paper_id) = p.paper_id "
            "AND w.word = md5_number_lower('^' || left(p.title_key, 12)) WHERE w.is_end",
            [files["title_words"], files["papers"]],
        ).fetchone()
    assert ends == (papers.height,)  # every title's first end, under its paper
    for file in files["title_words"]:
        part = pl.read_parquet(file, columns=["word", "paper_id"])
        assert part.height > 0 and part.equals(part.sort("word", "paper_id")), file


def test_an_older_lakes_title_words_are_hashed_once_with_the_same_pairs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake whose title_words holds strings has them converted on its next run, also after
    a conversion killed before its commit: then it holds the rows of a lake that stored
    integers from the start, and pairs the papers that come after as that lake does."""
    titles = _titles(900, seed=41)
    runs = [_papers(titles[:600]), _papers(titles[600:])]
    old, new = Warehouse(tmp_path / "old"), Warehouse(tmp_path / "new")
    with new.session():
        _ingest(new, runs[0], "run-0")
    _ingest_as_strings(old, runs[0], "run-0", monkeypatch)
    strings = _rows(old, "title_words")
    assert (
        strings.schema == pl.Schema(OLD_WORDS)
        and strings.height == _rows(new, "title_words").height
    )
    with monkeypatch.context() as patched:
        patched.setattr(catalog.Catalog, "_rows", _killed_at_second_call(catalog.Catalog._rows))
        with pytest.raises(KeyboardInterrupt), old.session():
            pass
    assert _rows(old, "title_words").equals(strings)  # nothing changed
    with old.session() as con:
        assert not catalog.Catalog._words_as_text(con)
    assert _rows(old, "title_words").equals(_rows(new, "title_words"))
    pairs = {}
    for store in (old, new):
        with store.session():
            pairs[store] = _ingest(store, runs[1], "run-1")
    assert pairs[new].height > 10  # the near-copies were paired
    assert pairs[old].equals(pairs[new])
    assert _rows(old, "title_words").equals(_rows(new, "title_words"))


def test_equally_rare_words_rank_by_spelling_as_when_stored_as_strings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pairs of a lake storing integers are those of one storing strings, even where a
    title's 5th and 6th rarest words are as rare: their spelling, not their hash, decides
    (these titles pair differently when the hashes break the tie)."""
    papers = _papers(_titles(400, seed=37))
    strings, integers = Warehouse(tmp_path / "strings"), Warehouse(tmp_path / "integers")
    expected = _ingest_as_strings(strings, papers, "run", monkeypatch)
    with integers.session():
        assert _ingest(integers, papers, "run").equals(expected)
    assert expected.height > 20


def _ingest_as_strings(
    store: Warehouse, papers: pl.DataFrame, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> pl.DataFrame:
    """:func:`_ingest` into a new lake whose title_words stores strings, as a lake did
    before they were hashed (:data:`OLD_MACROS`); return the run's pairs."""
    macros = store.root.parent / f"{store.root.name}-old_macros.sql"
    macros.write_text(OLD_MACROS)
    with monkeypatch.context() as patched, store.session() as con:
        con.execute(f"DROP TABLE {LAKE}.title_words")
        con.execute(
            f"CREATE TABLE {LAKE}.title_words (word VARCHAR, paper_id VARCHAR, is_end BOOL)"
        )
        patched.setattr(summaries, "TITLE_MACROS_SQL", macros)
        patched.setattr(summaries, "_WORDS", OLD_WORDS)
        return _ingest(store, papers, run_id)


def _ingest(store: Warehouse, papers: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Commit ``papers`` and their summaries, as a run does; return the run's pairs."""
    run = store.begin(run_id)
    run.append({"papers": papers})
    pairs = []
    for name, part in summaries.summarize(run, {"papers": papers.select(SUMMARIZED["papers"])}):
        run.append({name: part})
        pairs += [part] if name == "title_pairs" else []
    run.commit()
    return pl.concat(pairs).sort(pl.all())


def _killed_at_second_call(rows: Callable[[duckdb.DuckDBPyConnection, str], int]) -> object:
    """``Catalog._rows`` interrupted the second time it is called (the conversion's count
    after the new table replaced the old one, before the commit)."""
    calls = []

    def counted(con: duckdb.DuckDBPyConnection, table: str) -> int:
        calls.append(table)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return rows(con, table)

    return staticmethod(counted)


def _rows(store: Warehouse, table: str) -> pl.DataFrame:
    """The rows of the table's current files, in order, as stored (``scan`` would read
    them as the contract types them)."""
    return pl.read_parquet(store.current().tables[table]).sort(pl.all())
