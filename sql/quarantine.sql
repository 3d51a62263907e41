-- quarantine: everything that was not loaded, and why.  Grain: one rejected file, entry
-- or row.  The raw bytes of every quarantined file are kept at warehouse/<archive_path>.
--   scope        file | entry | row
--   reason       stable code (empty, not_utf8, html, no_date_label, impossible_date,
--                no_entries, several_pages, missing_abstract, abstract_without_title,
--                schema, ...)
--   detail       what was expected and what was found
--   line         line in the source file, where known
-- Example: select reason, count(*) from quarantine group by 1 order by 2 desc;
create or replace view quarantine as
with quarantine as (
    select
        source_file,
        dump_id,
        reason,
        detail,
        quarantined_at,
        scope,
        line,
        title,
        table_name,
        archive_path
    from internal.stg_quarantine
)

select * from quarantine
