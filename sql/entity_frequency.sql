-- entity_frequency: how many listed papers named each entity per page date.
-- Grain: entity x listed_on.
--   n_papers        distinct papers naming it, listed that day
--   n_introducing   of those, papers that introduce it
-- Example: select entity, sum(n_papers) from entity_frequency group by 1 order by 2 desc;
create or replace view entity_frequency as
with daily_papers as (
    select listed_on, paper_id
    from internal.stg_daily_papers
),

paper_entities as (
    select paper_id, entity, role
    from internal.stg_paper_entities
),

final as (
    select
        e.entity,
        d.listed_on,
        count(*) as n_papers,
        count(*) filter (where e.role = 'introduces') as n_introducing
    from daily_papers as d
    inner join paper_entities as e using (paper_id)
    group by e.entity, d.listed_on
)

select * from final
