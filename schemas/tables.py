"""Data contracts: one Pandera model per published table (plus the parsed-entry stage).

Every frame is validated on its *data* (collected, lazy=True so all failures are reported),
never only on dtypes.  Column docs live in each field's ``description``; the public SQL views
document their own columns in ``sql/``.

Longer than the ~250-line norm on purpose: this is the one list of every table's columns,
types and enumerations (the staging SQL is generated from it), one short model per table
sharing the limits and config above; split, the contracts would lose their one place.
"""

from __future__ import annotations

from datetime import date
from typing import get_args

import pandera.engines.polars_engine as pe
import pandera.polars as pa
import polars as pl

from paperlake.archive import CaptureSource
from paperlake.entities import EntityRole
from paperlake.normalize import LinkKind
from paperlake.parse import ZONE_AHEAD
from paperlake.rejects import Reject, Scope

MAX_TITLE_CHARS = 500
"""Real titles are < 200 chars; a longer "title" is a paragraph or a broken dump."""
MAX_ABSTRACT_CHARS = 20_000
"""Real abstracts are < 2,500 chars; a longer one is a broken capture, not a paper."""
EARLIEST_LISTING = date(2015, 1, 1)
"""Before any trending-papers page existed: an earlier date is a resolution bug."""

_SHA256 = r"^[0-9a-f]{64}$"
_PAPER_ID = r"^[0-9a-f]{16}$"
_UTC = {"time_unit": "us", "time_zone": "UTC"}


_MONTH_ERROR = "month must be the first day of listed_on's month"


def _month_of_listed_on(data: pa.PolarsData) -> pl.LazyFrame:
    """The check of the summaries per page date, which carry their ``month``."""
    return data.lazyframe.select(pl.col("listed_on").dt.truncate("1mo") == pl.col("month"))


class Strict:
    strict = True
    coerce = False


class Entries(pa.DataFrameModel):
    """Parsed title+abstract pairs, before identity is assigned."""

    dump_id: str = pa.Field(str_matches=_SHA256)
    position: pl.Int32 = pa.Field(ge=1, description="Rank on the page, 1-based.")
    title: str = pa.Field(str_length={"min_value": 1, "max_value": MAX_TITLE_CHARS})
    title_key: str = pa.Field(
        str_length={"min_value": 1}, description="NFKC+casefold letters and digits of the title."
    )
    abstract: str = pa.Field(str_length={"min_value": 1, "max_value": MAX_ABSTRACT_CHARS})
    line: pl.Int32 = pa.Field(ge=1, description="Line of the title in the dump.")
    paper_id: str = pa.Field(str_matches=_PAPER_ID)

    class Config(Strict):
        unique = ["dump_id", "position"]


class Dumps(pa.DataFrameModel):
    """One row per loaded dump (distinct bytes)."""

    dump_id: str = pa.Field(unique=True, str_matches=_SHA256, description="sha256 of the bytes.")
    source_file: str = pa.Field(str_length={"min_value": 1}, description="Path first seen at.")
    archive_path: str = pa.Field(description="Raw copy, relative to the warehouse.")
    date_label: str = pa.Field(description="The label as written, e.g. 'Mar 14'.")
    listed_on: date = pa.Field(ge=EARLIEST_LISTING)
    captured_on: date = pa.Field(ge=EARLIEST_LISTING)
    captured_on_source: str = pa.Field(isin=get_args(CaptureSource))
    n_bytes: pl.Int64 = pa.Field(ge=1)
    n_papers: pl.Int32 = pa.Field(ge=1, description="Listings loaded from this dump.")
    n_entry_problems: pl.Int32 = pa.Field(ge=0, description="Entries quarantined.")
    run_id: str
    ingested_at: pe.DateTime = pa.Field(dtype_kwargs=_UTC)

    class Config(Strict):
        pass

    @pa.dataframe_check(
        error="listed_on must be on or before the day after captured_on (a page dated in a "
        "time zone ahead of the capture's)"
    )
    def listed_before_capture(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("listed_on") <= pl.col("captured_on") + ZONE_AHEAD)

    @pa.dataframe_check(
        error="captured_on must not be after the day after the ingestion date (ingested_at, "
        "UTC; a capture dated in a zone ahead of UTC)"
    )
    def captured_not_in_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        ingested_on = pl.col("ingested_at").dt.date()
        return data.lazyframe.select(pl.col("captured_on") <= ingested_on + ZONE_AHEAD)


class Listings(pa.DataFrameModel):
    """A paper on a dump's page: dump x paper, with its rank."""

    dump_id: str = pa.Field(str_matches=_SHA256)
    listed_on: date = pa.Field(ge=EARLIEST_LISTING)
    position: pl.Int32 = pa.Field(ge=1)
    paper_id: str = pa.Field(str_matches=_PAPER_ID)

    class Config(Strict):
        unique = ["dump_id", "paper_id"]


class Papers(pa.DataFrameModel):
    """One row per distinct paper (normalized title), as first seen."""

    paper_id: str = pa.Field(unique=True, str_matches=_PAPER_ID)
    title_key: str = pa.Field(unique=True, str_length={"min_value": 1})
    title: str = pa.Field(str_length={"min_value": 1, "max_value": MAX_TITLE_CHARS})
    abstract: str = pa.Field(str_length={"min_value": 1})
    first_dump_id: str = pa.Field(str_matches=_SHA256)
    taxonomy_version: str = pa.Field(description="Taxonomy that tagged paper_topics.")

    class Config(Strict):
        pass


class PaperLinks(pa.DataFrameModel):
    """Links found in abstracts: GitHub repos, project pages, other URLs."""

    paper_id: str = pa.Field(str_matches=_PAPER_ID)
    url: str = pa.Field(str_matches=r"^https?://\S+$")
    kind: str = pa.Field(isin=get_args(LinkKind))
    repo: str = pa.Field(nullable=True, str_matches=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")

    class Config(Strict):
        unique = ["paper_id", "url"]

    @pa.dataframe_check(error="repo is set exactly when kind == 'repo'")
    def repo_iff_kind_repo(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("kind") == "repo") == pl.col("repo").is_not_null())


class PaperEntities(pa.DataFrameModel):
    """Method/model/dataset names a paper introduces or mentions."""

    paper_id: str = pa.Field(str_matches=_PAPER_ID)
    entity: str = pa.Field(str_length={"min_value": 2, "max_value": 80})
    role: str = pa.Field(isin=get_args(EntityRole))

    class Config(Strict):
        unique = ["paper_id", "entity"]


class PaperTopics(pa.DataFrameModel):
    """Taxonomy topics matched on a paper's title and abstract."""

    paper_id: str = pa.Field(str_matches=_PAPER_ID)
    topic: str = pa.Field(str_length={"min_value": 1})

    class Config(Strict):
        unique = ["paper_id", "topic"]


class PaperKeyphrases(pa.DataFrameModel):
    """1-3 word keyphrases of a paper's title."""

    paper_id: str = pa.Field(str_matches=_PAPER_ID)
    phrase: str = pa.Field(str_length={"min_value": 2, "max_value": 200})
    n_words: pl.Int32 = pa.Field(isin=[1, 2, 3])

    class Config(Strict):
        unique = ["paper_id", "phrase"]


class PaperTerms(pa.DataFrameModel):
    """The full-text index: term counts per paper, for BM25 search."""

    paper_id: str = pa.Field(str_matches=_PAPER_ID)
    term: str = pa.Field(str_length={"min_value": 2})
    tf: pl.Int32 = pa.Field(ge=1, description="Occurrences in title + abstract.")
    doc_len: pl.Int32 = pa.Field(ge=1, description="Indexed terms in the paper.")

    class Config(Strict):
        unique = ["paper_id", "term"]


class KeyphraseDaily(pa.DataFrameModel):
    """Summary: distinct papers per keyphrase and page date (``keyphrase_frequency``).

    A page date's rows are replaced whole when a run adds listings to that date (a new
    date's are only appended)."""

    phrase: str = pa.Field(str_length={"min_value": 2, "max_value": 200})
    listed_on: date = pa.Field(ge=EARLIEST_LISTING)
    n_papers: pl.Int32 = pa.Field(ge=1)
    n_words: pl.Int32 = pa.Field(isin=[1, 2, 3])
    month: date = pa.Field(description="First day of listed_on's month.")

    class Config(Strict):
        unique = ["phrase", "listed_on"]

    @pa.dataframe_check(error=_MONTH_ERROR)
    def month_of_listed_on(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _month_of_listed_on(data)


class TopicDaily(pa.DataFrameModel):
    """Summary: distinct papers per taxonomy topic and page date (``topic_frequency``).

    A page date's rows are replaced whole when a run adds listings to that date (a new
    date's are only appended); rewritten whole when ``retopic`` tags the papers again."""

    topic: str = pa.Field(str_length={"min_value": 1})
    listed_on: date = pa.Field(ge=EARLIEST_LISTING)
    n_papers: pl.Int32 = pa.Field(ge=1)
    month: date = pa.Field(description="First day of listed_on's month.")

    class Config(Strict):
        unique = ["topic", "listed_on"]

    @pa.dataframe_check(error=_MONTH_ERROR)
    def month_of_listed_on(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _month_of_listed_on(data)


class TitleWords(pa.DataFrameModel):
    """Summary: the blocking words of each title (``title_pairs``): its words, pairs of
    adjacent words and the two ends of its key, stored for at most ``MAX_BLOCK + 1`` titles
    per word (``paperlake.summaries``).  Integers, not strings: a daily run reads the whole
    table, and its strings were most of that cost (``sql/summaries/macros.sql``)."""

    word: pl.UInt64 = pa.Field(description="The word's word_hash: its md5's lower 64 bits.")
    paper_id: pl.UInt64 = pa.Field(description="The paper_id's paper_number: its 16 hex digits.")
    is_end: bool = pa.Field(description="An end of the title key ('^...' or '...$').")

    class Config(Strict):
        unique = ["word", "paper_id"]


class TitlePairs(pa.DataFrameModel):
    """Summary: pairs of papers with near-identical titles (``possible_duplicates``)."""

    paper_id_a: str = pa.Field(str_matches=_PAPER_ID)
    paper_id_b: str = pa.Field(str_matches=_PAPER_ID)
    similarity: float = pa.Field(ge=0.9, le=1.0, description="Jaro-Winkler of title keys.")

    class Config(Strict):
        unique = ["paper_id_a", "paper_id_b"]

    @pa.dataframe_check(error="a pair is stored once, with paper_id_a < paper_id_b")
    def ordered_pair(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("paper_id_a") < pl.col("paper_id_b"))


class Sources(pa.DataFrameModel):
    """Every input path read, with the dump its bytes were (lets a daily run skip old files)."""

    path: str = pa.Field(str_length={"min_value": 1})
    n_bytes: pl.Int64 = pa.Field(ge=0)
    mtime_ns: pl.Int64
    dump_id: str = pa.Field(str_matches=_SHA256)
    seen_at: pe.DateTime = pa.Field(dtype_kwargs=_UTC)
    captured_on: date = pa.Field(
        nullable=True,
        description="The capture date the read gave the bytes (``paperlake replay`` parses "
        "quarantined bytes again with it); null for reads before it was kept.",
    )
    captured_on_source: str = pa.Field(nullable=True, isin=get_args(CaptureSource))

    class Config(Strict):
        pass


class Quarantine(pa.DataFrameModel):
    """Everything rejected: whole files, single entries, rows that broke a contract."""

    source_file: str
    dump_id: str = pa.Field(nullable=True, description="Null when the file was unreadable.")
    scope: str = pa.Field(isin=get_args(Scope))
    table_name: str = pa.Field(nullable=True, description="Contract that failed, for rows.")
    reason: str = pa.Field(
        isin=[code.value for code in Reject], description="A paperlake.rejects code."
    )
    detail: str = pa.Field(str_length={"min_value": 1})
    line: pl.Int32 = pa.Field(nullable=True, ge=1)
    title: str = pa.Field(nullable=True)
    archive_path: str = pa.Field(nullable=True)
    run_id: str
    quarantined_at: pe.DateTime = pa.Field(dtype_kwargs=_UTC)

    class Config(Strict):
        pass


PUBLISHED: dict[str, type[pa.DataFrameModel]] = {
    "dumps": Dumps,
    "listings": Listings,
    "papers": Papers,
    "paper_links": PaperLinks,
    "paper_entities": PaperEntities,
    "paper_topics": PaperTopics,
    "paper_keyphrases": PaperKeyphrases,
    "paper_terms": PaperTerms,
    "keyphrase_daily": KeyphraseDaily,
    "topic_daily": TopicDaily,
    "title_words": TitleWords,
    "title_pairs": TitlePairs,
    "sources": Sources,
    "quarantine": Quarantine,
}
"""Lake tables, in publish order; each a DuckLake table (files in ``lake/data/main/<name>/``)."""

SUMMARIES = frozenset({"keyphrase_daily", "topic_daily", "title_words", "title_pairs"})
"""Tables derived from the others at the end of each run (see ``paperlake.summaries``)."""

REPLACED_BY: dict[str, str] = {"keyphrase_daily": "listed_on", "topic_daily": "listed_on"}
"""Tables written a value of a column at a time: rows written for a value replace its
stored rows (the summaries of a page date, recomputed whole when a run adds listings to it).

They are not partitioned: a new page date's rows are only appended, so DuckLake's files need
not follow the months, and one file per month made every read of them pay per-file costs
(a 10-year lake: 120 files each; the dashboard's two topic queries cost 0.040 s of CPU over
them, 0.011 s over one file, and the page 0.30-0.31 s against 0.26-0.27).  A lake written
while they were partitioned by month has them rewritten once, unpartitioned
(:meth:`~paperlake.lake.catalog.Catalog.connect`)."""


def polars_schema(model: type[pa.DataFrameModel]) -> pl.Schema:
    """The polars schema a model declares, for building and for typed empty frames."""
    return pl.Schema({name: col.dtype.type for name, col in model.to_schema().columns.items()})
