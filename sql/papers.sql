-- papers: every distinct paper.  Grain: one row per normalized title.
--   title, abstract       as in the first dump loaded that lists it (loaded, not listed:
--                         a backfill of older dumps after newer ones keeps the newer)
--   first_listed_on,
--   last_listed_on        first and last page date it appeared on
--   n_dumps               distinct dumps listing it
--   n_listing_days        distinct page dates listing it
--   n_repos               GitHub repos its abstract links
-- Example: select title, n_listing_days from papers order by 2 desc, title limit 10;
create or replace view papers as
with papers as (
    select paper_id, title, abstract
    from internal.stg_papers
),

listing_stats as (
    select paper_id, first_listed_on, last_listed_on, n_dumps, n_listing_days
    from internal.stg_paper_listing_stats
),

paper_repos as (
    select paper_id, repo_key
    from internal.stg_paper_repos
),

repo_counts as (
    select paper_id, count(distinct repo_key) as n_repos
    from paper_repos
    group by paper_id
),

final as (
    select
        p.paper_id,
        p.title,
        p.abstract,
        s.first_listed_on,
        s.last_listed_on,
        s.n_dumps,
        s.n_listing_days,
        coalesce(r.n_repos, 0) as n_repos
    from papers as p
    inner join listing_stats as s using (paper_id)
    left join repo_counts as r using (paper_id)
)

select * from final
