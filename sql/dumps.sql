-- dumps: the loaded dumps.  Grain: one row per distinct dump (same bytes = same dump).
--   dump_id       sha256 of the raw bytes (the raw copy is warehouse/<archive_path>)
--   source_file   path the dump was first ingested from
--   listed_on     the page's date: its label ("Mar 14"), the latest such date on or
--                 before the day after captured_on (the page's own time zone)
--   captured_on   --captured-on if given, else the date in the file name, else the
--                 file's modification time (UTC)
--   n_papers      listings loaded from this dump (= count of its rows in `listings`)
--   ingested_at   when the run that loaded it started (UTC; its snapshot was committed
--                 later: `history` lists when)
-- Example: select listed_on, sum(n_papers) from dumps group by 1 order by 1;
create or replace view dumps as
with dumps as (
    select
        dump_id,
        source_file,
        listed_on,
        captured_on,
        ingested_at,
        date_label,
        captured_on_source,
        n_bytes,
        n_entry_problems,
        archive_path
    from internal.stg_dumps
),

listings as (
    select dump_id
    from internal.stg_listings
),

listing_counts as (
    select dump_id, count(*) as n_listings
    from listings
    group by dump_id
),

final as (
    select
        d.dump_id,
        d.source_file,
        d.listed_on,
        d.captured_on,
        coalesce(c.n_listings, 0)::integer as n_papers,
        d.ingested_at,
        d.date_label,
        d.captured_on_source,
        d.n_bytes,
        d.n_entry_problems,
        d.archive_path
    from dumps as d
    left join listing_counts as c using (dump_id)
)

select * from final
