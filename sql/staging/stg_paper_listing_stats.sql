-- Staging: when and how often each paper was listed.  Shared by papers, repos, entities.
-- Hand-written because it computes: one aggregate row per paper over its listings.
create or replace view internal.stg_paper_listing_stats as
with listings as (
    select dump_id, listed_on, paper_id
    from internal.stg_listings
)

select
    paper_id,
    min(listed_on) as first_listed_on,
    max(listed_on) as last_listed_on,
    count(*) as n_dumps,  -- (dump_id, paper_id) is unique: the Listings contract
    count(distinct listed_on) as n_listing_days
from listings
group by paper_id
