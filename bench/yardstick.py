"""The yardstick: a one-pass DuckDB loader a skilled user writes (issue 19), run by
``bench.worker yardstick`` next to the backfill it is compared with."""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

YARDSTICK_SQL = r"""
CREATE TEMP TABLE files AS
SELECT filename, regexp_split_to_array(trim(CASE
        WHEN contains(text, ' ' || chr(10)) OR contains(text, chr(9) || chr(10))
        THEN regexp_replace(text, '[ \t]+\n', chr(10), 'g')
        ELSE text END), '\n\n+') AS blocks
FROM (SELECT filename, replace(content, chr(13), '') AS text
      FROM read_text('{folder}/*.txt'));

CREATE TEMP TABLE entries AS
WITH labelled AS (
    SELECT filename, blocks, list_position(list_transform(blocks,
        b -> regexp_full_match(b, '[A-Z][a-z]{{2,8}}\.? \d{{1,2}}')), true) AS l
    FROM files
), pairs AS (
    SELECT filename, blocks[l] AS label, unnest(list_transform(range(1, (len(blocks) - l) // 2 + 1),
        p -> {{'position': p, 'title': replace(blocks[l + 2 * p - 1], chr(10), ' '),
               'abstract': replace(blocks[l + 2 * p], chr(10), ' ')}}), recursive := true)
    FROM labelled WHERE l > 0
)
SELECT *, regexp_replace(lower(nfc_normalize(title)), '[^\p{{L}}\p{{N}}]+', '', 'g') AS key
FROM pairs;

COPY (SELECT filename, label, position, key FROM entries) TO '{out}/listings.parquet';
COPY (SELECT key, any_value(title) AS title, any_value(abstract) AS abstract,
             count(*) AS n_listings FROM entries GROUP BY key) TO '{out}/papers.parquet';
COPY (SELECT DISTINCT key, lower(unnest(regexp_extract_all(abstract,
             'github\.com/([A-Za-z0-9-]+/[A-Za-z0-9._-]+)', 1))) AS repo
      FROM entries) TO '{out}/repos.parquet';
"""
"""Blocks on blank lines, chrome skipped to the date label, titles paired with abstracts,
a normalized title key, GitHub repos by regex, three Parquet files: issue 19's yardstick."""


def one_pass_loader(folder: str, out: str) -> dict[str, float]:
    """Run :data:`YARDSTICK_SQL` (``bench.worker yardstick``); the time includes the import."""
    started, cpu = time.perf_counter(), time.process_time()
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    Path(out).mkdir(parents=True)
    con = duckdb.connect()
    con.execute(YARDSTICK_SQL.format(folder=folder, out=out))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    listings = con.execute(f"SELECT count(*) FROM '{out}/listings.parquet'").fetchone()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "listings": listings[0] if listings else 0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
