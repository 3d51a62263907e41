-- repos: GitHub repositories linked from abstracts.  Grain: one repo (case-insensitive).
--   repo              owner/name (spelling first in sort order when it varies)
--   url               https://github.com/owner/name
--   n_papers          distinct papers linking it
--   first_listed_on,
--   last_listed_on    first/last page date of a paper linking it
--   n_listings        listings of papers linking it (how often it was on the page)
-- Example: select repo, n_listings from repos order by n_listings desc, repo limit 10;
create or replace view repos as
with paper_repos as (
    select paper_id, repo, repo_key
    from internal.stg_paper_repos
),

-- The listings of the papers linking a repo only (a fifth of them), aggregated here:
-- DuckDB does not push the filter below internal.stg_paper_listing_stats' aggregate, and
-- aggregating every paper's listings cost the dashboard's query ~0.025 s more CPU at 10 years.
listings as (
    select paper_id, listed_on
    from internal.stg_listings
    where paper_id in (select paper_id from paper_repos)
),

listing_stats as (
    select
        paper_id,
        min(listed_on) as first_listed_on,
        max(listed_on) as last_listed_on,
        count(*) as n_dumps  -- (dump_id, paper_id) is unique: the Listings contract
    from listings
    group by paper_id
),

final as (
    select
        min(rp.repo) as repo,
        'https://github.com/' || min(rp.repo) as url,
        count(distinct rp.paper_id) as n_papers,
        min(s.first_listed_on) as first_listed_on,
        max(s.last_listed_on) as last_listed_on,
        sum(s.n_dumps)::bigint as n_listings
    from paper_repos as rp
    inner join listing_stats as s using (paper_id)
    group by rp.repo_key
)

select * from final
