-- Staging: one row per (dump, paper) with the paper's rank on that page.
create or replace view internal.stg_listings as
select dump_id, listed_on, position, paper_id
from internal.lake_listings
