-- papers_without_code: share of each day's listed papers that link no GitHub repo.
-- Grain: listed_on.
--   n_papers               distinct papers listed that day
--   n_without_code         of those, papers whose abstract links no repo
--   share_without_code     n_without_code / n_papers
-- Example: select * from papers_without_code order by listed_on desc limit 30;
create or replace view papers_without_code as
with daily_papers as (
    select listed_on, paper_id
    from internal.stg_daily_papers
),

paper_repos as (
    select paper_id
    from internal.stg_paper_repos
),

with_code as (
    select distinct paper_id
    from paper_repos
),

final as (
    select
        d.listed_on,
        count(*) as n_papers,
        count(*) filter (where c.paper_id is null) as n_without_code,
        round(count(*) filter (where c.paper_id is null) / count(*), 4) as share_without_code
    from daily_papers as d
    left join with_code as c using (paper_id)
    group by d.listed_on
)

select * from final
