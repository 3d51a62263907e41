-- repeated_listings: papers that keep coming back.  Grain: paper listed in 2+ dumps.
--   n_dumps, n_listing_days, first_listed_on, last_listed_on  as in `papers`
-- Example: select title, n_listing_days from repeated_listings
--          order by n_listing_days desc, n_dumps desc, last_listed_on desc, title limit 10;
create or replace view repeated_listings as
with listed_papers as (
    select paper_id, title, n_dumps, n_listing_days, first_listed_on, last_listed_on
    from papers
),

final as (
    select paper_id, title, n_dumps, n_listing_days, first_listed_on, last_listed_on
    from listed_papers
    where n_dumps >= 2
)

select * from final
