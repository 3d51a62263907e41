-- repos: GitHub repositories linked from abstracts.  Grain: one repo (case-insensitive).
--   repo              owner/name (spelling first in sort order when it varies)
--   url               https://github.com/owner/name
--   n_papers          distinct papers linking it
--   first_listed_on,
--   last_listed_on    first/last page date of a paper linking it
--   n_listings        listings of papers linking it (how often it was on the page)
-- Example: select repo, n_listings from repos order by n_listings desc limit 10;
create or replace view repos as
with repo_papers as (
    select distinct repo_key, repo, paper_id
    from internal.stg_paper_links
    where kind = 'repo'
),

listing_counts as (
    select paper_id, count(*) as n_listings
    from internal.stg_listings
    group by paper_id
),

final as (
    select
        min(rp.repo) as repo,
        'https://github.com/' || min(rp.repo) as url,
        count(distinct rp.paper_id) as n_papers,
        min(s.first_listed_on) as first_listed_on,
        max(s.last_listed_on) as last_listed_on,
        sum(lc.n_listings)::bigint as n_listings
    from repo_papers as rp
    inner join internal.stg_paper_listing_stats as s using (paper_id)
    inner join listing_counts as lc using (paper_id)
    group by rp.repo_key
)

select * from final
order by n_papers desc, n_listings desc, repo
