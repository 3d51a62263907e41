-- project_pages: *.github.io project pages, kept apart from repos.  Grain: one URL.
-- Example: select * from project_pages order by n_papers desc, url;
create or replace view project_pages as
with links as (
    select paper_id, url
    from internal.stg_paper_links
    where kind = 'project_page'
),

final as (
    select url, count(distinct paper_id) as n_papers
    from links
    group by url
)

select * from final
