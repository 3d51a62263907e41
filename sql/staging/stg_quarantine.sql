-- Staging: everything rejected, newest first.
create or replace view internal.stg_quarantine as
select
    source_file,
    dump_id,
    scope,
    table_name,
    reason,
    detail,
    line,
    title,
    archive_path,
    run_id,
    quarantined_at
from internal.lake_quarantine
