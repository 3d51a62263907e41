-- topic_frequency: how many distinct listed papers carried each topic per page date.
-- Grain: topic x listed_on (only days where the topic occurs).
--   n_papers   distinct papers with the topic listed that day (a paper in two dumps
--              of the same day counts once)
-- Example: select topic, sum(n_papers) from topic_frequency group by 1 order by 2 desc, 1;
create or replace view topic_frequency as
with daily_papers as (
    select listed_on, paper_id
    from internal.stg_daily_papers
),

paper_topics as (
    select paper_id, topic
    from internal.stg_paper_topics
),

final as (
    select t.topic, d.listed_on, count(*) as n_papers
    from daily_papers as d
    inner join paper_topics as t using (paper_id)
    group by t.topic, d.listed_on
)

select * from final
