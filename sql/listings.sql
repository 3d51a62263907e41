-- listings: which paper appeared on which dump's page.  Grain: dump x paper.
--   dump_id, listed_on   the dump and its page date
--   position             rank on the page, 1-based (gaps where an entry was quarantined
--                        or a title repeated)
--   paper_id             the paper (16 hex chars of sha256 of its normalized title)
-- Example: select listed_on, count(distinct paper_id) from listings group by 1 order by 1;
create or replace view listings as
with listings as (
    select dump_id, listed_on, position, paper_id
    from internal.stg_listings
)

select * from listings
