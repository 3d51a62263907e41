-- Staging: the distinct papers listed on each page date (a paper in two dumps of one day
-- counts once).  Hand-written because it computes the day x paper grain that every
-- per-day count (topic_frequency, entity_frequency, papers_without_code) is over.
create or replace view internal.stg_daily_papers as
with listings as (
    select listed_on, paper_id
    from internal.stg_listings
)

select distinct listed_on, paper_id
from listings
