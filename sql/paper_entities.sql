-- paper_entities: which paper names which entity, and how, to join `papers` and
-- `listings` (paper_id) with `entities` (entity).  Grain: paper x entity.
--   paper_id          the paper (as in `papers`, `listings`, `paper_topics`)
--   entity            spelled as in the text and in `entities`
--   role              'introduces' (title prefix, "we propose X") or 'mentions'
-- Example: select e.entity, count(*) as n_papers
--          from paper_entities as e join paper_topics as t using (paper_id)
--          where t.topic = 'reinforcement learning'
--          group by e.entity order by n_papers desc, e.entity limit 10;
create or replace view paper_entities as
with paper_entities as (
    select paper_id, entity, role
    from internal.stg_paper_entities
)

select * from paper_entities
