-- entities: methods, models, datasets, benchmarks named in papers (no authors).
-- Grain: one entity, spelled as in the text ("Qwen2.5-Math", "RandLoRA").
--   n_papers           distinct papers naming it
--   n_introducing      papers that introduce it (title prefix, "we propose X")
--   first_listed_on,
--   last_listed_on     first/last page date of a paper naming it
-- Example: select entity, n_papers from entities order by n_papers desc, entity limit 20;
create or replace view entities as
with paper_entities as (
    select paper_id, entity, role
    from internal.stg_paper_entities
),

listing_stats as (
    select paper_id, first_listed_on, last_listed_on
    from internal.stg_paper_listing_stats
),

final as (
    select
        e.entity,
        -- (paper_id, entity) is unique (PaperEntities contract), so rows are papers.
        count(*) as n_papers,
        count(*) filter (where e.role = 'introduces') as n_introducing,
        min(s.first_listed_on) as first_listed_on,
        max(s.last_listed_on) as last_listed_on
    from paper_entities as e
    inner join listing_stats as s using (paper_id)
    group by e.entity
)

select * from final
