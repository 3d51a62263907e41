-- project_pages: *.github.io project pages, kept apart from repos.  Grain: one URL.
-- Example: select * from project_pages;
create or replace view project_pages as
with final as (
    select url, count(distinct paper_id) as n_papers
    from internal.stg_paper_links
    where kind = 'project_page'
    group by url
)

select * from final
order by n_papers desc, url
