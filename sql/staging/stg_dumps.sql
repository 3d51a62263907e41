-- Staging: loaded dumps, one row per distinct dump (sha256 of its bytes).
create or replace view internal.stg_dumps as
select
    dump_id,
    source_file,
    archive_path,
    date_label,
    listed_on,
    captured_on,
    captured_on_source,
    n_bytes,
    n_entry_problems,
    run_id,
    ingested_at
from internal.lake_dumps
